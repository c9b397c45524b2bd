"""Generate the docs pages that must not be written by hand: API reference, examples index, study gallery.

Run by ``make docs`` before ``mkdocs build --strict``. The gallery is built from the results ledger
(``results/``): only numbers from recorded runs, each with its scale, seeds, revision and device.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sys
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))


def api_page() -> str:
    """One mkdocstrings entry per public name of ``plasticity.__all__``, grouped by defining subpackage."""
    import plasticity

    groups: dict[str, list[str]] = {}
    for name in plasticity.__all__:
        obj = getattr(plasticity, name)
        if isinstance(obj, types.ModuleType) or name.startswith("__"):
            continue
        mod = getattr(obj, "__module__", "plasticity") or "plasticity"
        groups.setdefault(".".join(mod.split(".")[:2]), []).append(name)
    lines = ["# API reference", "",
             "Every public name exported by `plasticity` (`plasticity.__all__`), generated from the docstrings.", ""]
    for mod in sorted(groups):
        lines += [f"## `{mod}`", ""]
        for name in groups[mod]:
            lines += [f"::: plasticity.{name}", ""]
    return "\n".join(lines)


def examples_page() -> str:
    """List every script in ``examples/`` with its docstring and source."""
    lines = ["# Examples", "", "One script per rule and per study; each runs as `python examples/NAME.py` "
             "(set `PLASTICITY_SMOKE=1` for a seconds-long run, as the tests do).", ""]
    for path in sorted((ROOT / "examples").glob("*.py")):
        src = path.read_text()
        doc = (inspect.cleandoc(src.split('"""')[1]) if src.startswith('"""') else "").splitlines()
        lines += [f"## `{path.name}`", "", doc[0] if doc else "", "", "```python", src.rstrip(), "```", ""]
    return "\n".join(lines)


def _fmt(v: object) -> str:
    """A table cell: floats to 4 significant digits, pipes escaped."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return "—" if v is None else str(v).replace("|", "\\|").replace("\n", " ")


def gallery() -> None:
    """Write ``docs/gallery/index.md`` and one page per study from the results ledger (``results/``).

    Only recorded runs appear: each with its scale, seeds (tuned or held out), revision, device and wall time;
    a scale without a record reads "not yet run", never a pass.
    """
    from plasticity.studies import get_study, list_studies
    from plasticity.studies import ledger as L
    from plasticity.studies.base import ledger_scales

    out = DOCS / "gallery"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    records = L.load_records(ROOT / "results")
    rows = ["# Study gallery", "",
            "Every number here comes from a recorded run in the results ledger (`results/`, written by "
            "`plasticity study run NAME --scale small --seeds 0-2 --record`): scale, seeds (`*` = tuned on, the "
            "others held out), git revision, device and wall time. A check compares a number we measured with the "
            "paper's; INCONCLUSIVE means the reference it compares with did not learn.", "",
            L.markdown_table(ROOT / "results"), "", "| study | paper | page |", "|---|---|---|"]
    for name in list_studies():
        study = get_study(name)
        page_dir = out / name
        page_dir.mkdir()
        rows.append(f"| [{name}]({name}/index.md) | {_fmt(study.authors)} {study.year} | {_fmt(study.title)} |")
        page = [f"# {study.title}", "", f"*{study.authors} ({study.year})* — <{study.url}>", "",
                f"**Claim.** {study.claim}", "", "**Deviations from the paper and its code.**", ""]
        page += [f"* {_fmt(d)}" for d in study.deviations] or ["* none stated"]
        page.append("")
        for scale in ledger_scales(study):
            recs = [r for r in records if r["study"] == name and r["scale"] == scale]
            page += [f"## `{scale}`", ""]
            if not recs:
                page += ["Not yet run.", ""]
                continue
            for r in recs:
                held = "held out" if r["held_out"] else "tuned on"
                page += [f"### seed {r['seed']} ({held}): {r['status']}", "",
                         f"{_fmt(r['device'])}, torch {r['torch']}, {r['wall_s']:.0f} s, revision "
                         f"`{r['revision'][:12]}`, {r['date'][:10]}", "",
                         "| check | wanted | ours | verdict |", "|---|---|---|---|"]
                for c in r["checks"]:
                    page.append(f"| {_fmt(c['name'])} | {_fmt(c['paper'])} | {_fmt(c['measured'])} | {c['status']} |")
                page.append("")
                for f in r.get("figures", []):
                    src = ROOT / "results" / name / scale / f
                    if src.exists():
                        shutil.copy(src, page_dir / f)
                        page += [f"![{f}]({f})", ""]
        (page_dir / "index.md").write_text("\n".join(page))
    (out / "index.md").write_text("\n".join(rows) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-gallery", action="store_true")
    args = ap.parse_args()
    (DOCS / "api.md").write_text(api_page())
    (DOCS / "examples.md").write_text(examples_page())
    if not args.no_gallery:
        gallery()


if __name__ == "__main__":
    main()
