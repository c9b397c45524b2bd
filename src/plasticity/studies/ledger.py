"""The results ledger: one JSON record per real study run (study, scale, seed) kept in the repo's ``results/``.

``plasticity study run NAME --scale S --seeds 0-2 --record`` writes ``results/NAME/S/seed<k>.json`` with the
config and its hash, the git revision, the command, the wall time, the device, the torch version, the
metrics, the check verdicts and the deviations. A record whose config hash no longer matches the study's
current config for that scale is *stale*: re-run it or delete it, never edit it by hand. A record whose stored
verdicts differ from what the study's current checks say about its stored metrics is stale too; besides a
re-run, :func:`recheck` may re-evaluate it (the metrics stay as measured; the record keeps a ``rechecks`` entry
with the revision, the date and the verdicts before). The docs gallery
and the README's results table are generated from these records (:func:`summary_rows`, :func:`markdown_table`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..utils import atomic_write_json, atomic_write_text
from .base import StudyResult, align_checks, combine_statuses, ledger_scales, verdict
from .checks import CheckResult

README_START, README_END = "<!-- ledger:start -->", "<!-- ledger:end -->"
MAX_FIGURE_BYTES = 400_000


def config_hash(cfg: dict[str, Any]) -> str:
    """A stable short hash of a config (canonical JSON, sorted keys)."""
    text = json.dumps(cfg, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_root() -> Path:
    """``$PLASTICITY_RESULTS`` or the repository's ``results/`` (next to ``src/``), else ``./results``."""
    env = os.environ.get("PLASTICITY_RESULTS")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").exists() and (repo / "src" / "plasticity").is_dir():
        return repo / "results"
    return Path("results")


def git_revision(cwd: Path | None = None) -> str:
    """``<sha>`` of HEAD, with ``+dirty`` when tracked files other than the ledger's own ``results/`` differ (a
    record being written is not a code change); ``unknown`` outside a git checkout."""
    cwd = cwd or Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: str) -> str:
    """The GPU name for a CUDA run, else the CPU model (from /proc/cpuinfo) with the thread count."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ({torch.get_num_threads()} threads)"


def record(result: StudyResult, device: str = "cpu", root: Path | None = None, command: list[str] | None = None,
           overridden: bool = False, revision: str | None = None) -> Path:
    """Write one single-seed result as ``root/STUDY/SCALE/seed<k>.json`` (figures copied as PNG if small).

    ``revision`` should be read before the run starts (the code that ran is the code loaded then);
    by default it is read now.
    """
    import torch

    if overridden:
        raise ConfigError("--record takes no --set overrides: the ledger holds runs of the study's own scale "
                          "configs (change the config in the study, then record)")
    if len(result.seeds) != 1:
        raise ConfigError("record one seed per record; run_seeds records each seed through on_result")
    root = root or default_root()
    seed = result.seeds[0]
    folder = root / result.study / result.scale
    folder.mkdir(parents=True, exist_ok=True)
    figs = []
    # one copy of each figure per (study, scale): the lowest recorded seed's, to keep the repository small
    lower = [p for p in folder.glob("seed*.json") if int(p.stem[4:]) < seed]
    for f in ([] if lower else result.figures):
        src = Path(result.out_dir) / f
        if src.suffix.lower() == ".png" and src.exists() and src.stat().st_size <= MAX_FIGURE_BYTES:
            dst = folder / f"seed{seed}_{Path(f).name}"
            tmp = dst.with_suffix(".png.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            figs.append(dst.name)
    for stale in ([] if lower else folder.glob("seed*_*.png")):
        if not stale.name.startswith(f"seed{seed}_"):
            stale.unlink()
    rec = {
        "study": result.study, "scale": result.scale, "seed": seed,
        "held_out": seed not in result.tuned_seeds, "tuned_seeds": result.tuned_seeds,
        "config": result.config, "config_hash": config_hash(result.config),
        "revision": revision or git_revision(), "command": " ".join(command if command is not None else sys.argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "wall_s": round(result.seconds, 2),
        "device": device_name(device), "torch": torch.__version__, "python": platform.python_version(),
        "status": result.status, "checks": [c.__dict__ for c in result.checks],
        "deviations": result.deviations, "metrics": result.metrics, "figures": figs,
    }
    path = folder / f"seed{seed}.json"
    atomic_write_json(path, rec)
    return path


def load_records(root: Path | None = None) -> list[dict[str, Any]]:
    """Every record under ``root``, sorted by (study, scale, seed)."""
    root = root or default_root()
    recs = []
    for p in sorted(root.glob("*/*/seed*.json")):
        d = json.loads(p.read_text())
        d["_path"] = str(p)
        recs.append(d)
    return sorted(recs, key=lambda d: (d["study"], d["scale"], d["seed"]))


def current_verdicts(d: dict[str, Any]) -> list[CheckResult]:
    """The study's current checks evaluated on a record's stored metrics and config."""
    from . import get_study

    return get_study(d["study"]).evaluate(d["metrics"], d["config"])


def _verdicts_differ(d: dict[str, Any]) -> list[str]:
    """Names of checks whose stored status or target (with its noise margin) differs from the current checks' (added
    or removed checks count)."""
    try:
        now = {c.name: (c.status, c.paper) for c in current_verdicts(d)}
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        return [f"(the current checks cannot read its metrics: {type(e).__name__}: {e})"]
    then = {c["name"]: (c["status"], c["paper"]) for c in d["checks"]}
    return sorted(k for k in now.keys() | then.keys() if now.get(k) != then.get(k))


def stale_records(root: Path | None = None) -> list[str]:
    """Records whose config hash differs from the study's current config at that scale (or unknown study), or
    whose stored verdicts differ from the current checks on the stored metrics."""
    from . import get_study, list_studies

    names = set(list_studies())
    stale = []
    for d in load_records(root):
        if d["study"] not in names or d["scale"] not in get_study(d["study"]).scales:
            stale.append(f"{d['_path']}: study or scale no longer exists")
            continue
        now = config_hash(get_study(d["study"]).config(d["scale"]))
        if now != d["config_hash"]:
            stale.append(f"{d['_path']}: config hash {d['config_hash']} != current {now}; re-run "
                         f"`plasticity study run {d['study']} --scale {d['scale']} --seeds {d['seed']} --record` "
                         "or delete it")
            continue
        changed = _verdicts_differ(d)
        if changed:
            stale.append(f"{d['_path']}: stored verdicts differ from the current checks on its metrics "
                         f"({'; '.join(changed)}); re-run it, or re-evaluate its stored metrics with "
                         "`python -m plasticity.studies.ledger --recheck`")
    return stale


def recheck(root: Path | None = None, revision: str | None = None) -> list[Path]:
    """Re-evaluate the current checks on each record's stored metrics where the verdicts differ; returns the
    records rewritten. Only records whose config hash is current: a changed config needs a re-run."""
    from . import get_study, list_studies

    names = set(list_studies())
    done = []
    for d in load_records(root):
        if d["study"] not in names or d["scale"] not in get_study(d["study"]).scales:
            continue
        if config_hash(get_study(d["study"]).config(d["scale"])) != d["config_hash"] or not _verdicts_differ(d):
            continue
        checks = current_verdicts(d)
        path = Path(d.pop("_path"))
        entry = {"revision": revision or git_revision(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "status_before": d["status"], "checks_before": {c["name"]: c["status"] for c in d["checks"]}}
        d["checks"] = [c.__dict__ for c in checks]
        d["status"] = verdict([c.status for c in checks])
        d["rechecks"] = [*d.get("rechecks", []), entry]
        atomic_write_json(path, d)
        done.append(path)
    return done


def summary_rows(root: Path | None = None) -> list[dict[str, Any]]:
    """One row per (study, scale) with records: seeds (held out marked), pass rate, verdict, cost, revision."""
    from . import get_study, list_studies

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for d in load_records(root):
        groups.setdefault((d["study"], d["scale"]), []).append(d)
    rows = []
    for name in list_studies():
        study = get_study(name)
        for scale in ledger_scales(study):
            recs = groups.get((name, scale), [])
            if not recs:
                rows.append({"study": name, "scale": scale, "status": "not yet run"})
                continue
            n_pass = sum(r["status"] == "PASS" for r in recs)
            rows.append({
                "study": name, "scale": scale, "status": seeds_verdict(recs),
                "seeds": ",".join(f"{r['seed']}" + ("" if r["held_out"] else "*") for r in recs),
                "pass": f"{n_pass}/{len(recs)}",
                "checks": _check_rates(recs),
                "wall_s": sum(r["wall_s"] for r in recs), "device": recs[0]["device"],
                "revision": ",".join(sorted({r["revision"][:9] + ("+" if "dirty" in r["revision"] else "")
                                             for r in recs})) + _rechecked(recs),
                "date": max(r["date"] for r in recs)[:10], "title": study.title,
            })
    return rows


def _rechecked(recs: list[dict[str, Any]]) -> str:
    revs = sorted({r["rechecks"][-1]["revision"][:9] for r in recs if r.get("rechecks")})
    return f" (checks re-evaluated at {','.join(revs)})" if revs else ""


def seeds_verdict(recs: list[dict[str, Any]]) -> str:
    """The verdict over a (study, scale)'s records, as ``study run --seeds`` gives it: each check combined over the
    seeds by its ``seed_rate`` (a check missing from a record fails there), then the verdict over the checks."""
    out = []
    for _, found in align_checks([r["checks"] for r in recs], lambda c: c["name"]):
        rate = next(float(c.get("seed_rate") or 1.0) for c in found if c is not None)
        out.append(combine_statuses([c["status"] if c is not None else "FAIL" for c in found], rate))
    return verdict(out)


def _check_rates(recs: list[dict[str, Any]]) -> str:
    names: dict[str, int] = {}
    for r in recs:
        for c in r["checks"]:
            names.setdefault(c["name"], 0)
            names[c["name"]] += c["status"] == "PASS"
    return f"{sum(v == len(recs) for v in names.values())}/{len(names)}"


def markdown_table(root: Path | None = None) -> str:
    """The README / gallery results table: only ledger numbers, each with scale, seeds, revision and device."""
    lines = ["| study | scale | verdict | seeds (* tuned) | seeds passing | checks passing on every seed | "
             "wall time | device | revision | date |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary_rows(root):
        if r["status"] == "not yet run":
            lines.append(f"| {r['study']} | {r['scale']} | not yet run | | | | | | | |")
            continue
        lines.append(f"| {r['study']} | {r['scale']} | {r['status']} | {r['seeds']} | {r['pass']} | {r['checks']} | "
                     f"{_dur(r['wall_s'])} | {_md(r['device'])} | {r['revision']} | {r['date']} |")
    return "\n".join(lines)


def _md(s: str) -> str:
    return s.replace("|", "/")


def _dur(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def update_readme(readme: Path, root: Path | None = None) -> bool:
    """Replace the README's text between the ledger markers with the current table; True if it changed."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ConfigError(f"{readme} has no {README_START} ... {README_END} markers for the ledger table")
    new = re.sub(re.escape(README_START) + r".*?" + re.escape(README_END),
                 lambda _m: f"{README_START}\n{markdown_table(root)}\n{README_END}", text, flags=re.S)
    if new != text:
        atomic_write_text(readme, new)
    return new != text


def main() -> None:
    """``python -m plasticity.studies.ledger [--check]``: print the table, list stale records, update README."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--readme", type=Path, default=None, help="update the table between the ledger markers")
    ap.add_argument("--recheck", action="store_true",
                    help="re-evaluate the current checks on the stored metrics of records whose verdicts differ")
    ap.add_argument("--code-changes", action="store_true",
                    help="list the records whose study code (the module and what it imports) changed since they ran")
    args = ap.parse_args()
    if args.code_changes:
        from .provenance import code_changes

        for c in code_changes(load_records()):
            if c["changed"] or c["dirty"] or c["changed"] is None:
                what = "unknown (revision not in this checkout)" if c["changed"] is None else ", ".join(c["changed"])
                print(f"{c['study']}/{c['scale']}/seed{c['seed']} at {c['revision'][:10]}"
                      f"{' (dirty tree)' if c['dirty'] else ''}: {what or 'no source change'}")
        return
    if args.recheck:
        for p in recheck():
            print("RECHECKED", p)
    print(markdown_table())
    stale = stale_records()
    for s in stale:
        print("STALE", s, file=sys.stderr)
    if args.readme:
        print("README updated" if update_readme(args.readme) else "README already current")
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
