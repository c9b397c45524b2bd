"""Generate the docs pages that must not be written by hand: API reference, examples index, study gallery.

Run by ``make docs`` before ``mkdocs build --strict``. The gallery runs every registered study at
``--scale`` (default ``smoke``), or reuses ``reports/studies/NAME/SCALE/results.json`` from an earlier
``plasticity study run`` when ``--reuse`` is given, so the numbers on the page are always measured.
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


def gallery(scale: str, reuse: bool, only: list[str] | None) -> None:
    """Run (or reuse) each study and write ``docs/gallery/index.md`` plus one page per study with figures."""
    from plasticity.studies import get_study, list_studies
    from plasticity.studies.base import StudyResult

    out = DOCS / "gallery"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows = ["# Study gallery", "",
            f"Every study, run at `{scale}` scale by `make docs` (CPU). A check compares a number we measured with "
            "the paper's; small scales often cannot reach a paper-scale claim, and then the check says FAIL. "
            "`plasticity study run NAME --scale small|paper` reproduces a row.", "",
            "| study | paper | checks passed | page |", "|---|---|---|---|"]
    for name in only or list_studies():
        study = get_study(name)
        cached = ROOT / "reports" / "studies" / name / scale / "results.json"
        if reuse and cached.exists():
            res = StudyResult.load(cached)
        else:
            res = study.run(scale=scale, out_dir=out / f"_{name}_run", quiet=True)
        page_dir = out / name
        page_dir.mkdir()
        figs = []
        for fig in res.figures:
            src = Path(res.out_dir) / fig
            if src.exists():
                shutil.copy(src, page_dir / Path(fig).name)
                figs.append(Path(fig).name)
        n_ok = sum(c.passed for c in res.checks)
        rows.append(f"| [{name}]({name}/index.md) | {study.authors} {study.year} | {n_ok}/{len(res.checks)} "
                    f"| [{study.title}]({name}/index.md) |")
        page = [f"# {study.title}", "", f"*{study.authors} ({study.year})* — <{study.url}>", "",
                f"**Claim.** {study.claim}", "", f"Scale: `{res.scale}`.", "",
                "| check | paper | ours | verdict |", "|---|---|---|---|"]
        for c in res.checks:
            page.append(f"| {_fmt(c.name)} | {_fmt(c.paper)} | {_fmt(c.measured)} | {'PASS' if c.passed else 'FAIL'} |")
        page.append("")
        for c in res.checks:
            if c.detail:
                page.append(f"* **{c.name}**: {c.detail}")
        page.append("")
        for f in figs:
            page += [f"![{f}]({f})", ""]
        (page_dir / "index.md").write_text("\n".join(page))
        shutil.rmtree(out / f"_{name}_run", ignore_errors=True)
        print(f"gallery: {name} {n_ok}/{len(res.checks)} checks pass", flush=True)
    (out / "index.md").write_text("\n".join(rows) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", default="smoke", choices=["smoke", "small", "paper"])
    ap.add_argument("--reuse", action="store_true", help="reuse reports/studies/NAME/SCALE/results.json if present")
    ap.add_argument("--only", default="", help="comma-separated study names (default: all)")
    ap.add_argument("--no-gallery", action="store_true")
    args = ap.parse_args()
    (DOCS / "api.md").write_text(api_page())
    (DOCS / "examples.md").write_text(examples_page())
    if not args.no_gallery:
        gallery(args.scale, args.reuse, [s for s in args.only.split(",") if s] or None)


if __name__ == "__main__":
    main()
