"""Self-contained HTML reports (figures embedded as base64 PNG) for a run, a sweep and a study.

A study page puts the paper's value beside ours with each check's verdict (from the study's results.json).
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path
from typing import Any

from ..utils import atomic_write_text
from .store import RunStore

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}img{max-width:100%}"""

CURVE_KEYS = (("train_loss", "train loss", True), ("test_loss", "test loss", True),
              ("test_accuracy", "test accuracy", False))


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return _esc(v)


def png_data_uri(fig: Any) -> str:
    """Render a matplotlib figure to an embeddable ``data:image/png;base64,...`` URI and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def file_data_uri(path: str | Path) -> str:
    data = Path(path).read_bytes()
    suffix = Path(path).suffix.lower().lstrip(".") or "png"
    mime = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "svg": "image/svg+xml"}.get(suffix,
                                                                                                   "image/png")
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def curves_figure(histories: dict[str, list[dict[str, Any]]]) -> Any:
    """Learning curves (loss, test loss, accuracy) of one or more runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in CURVE_KEYS if any(k[0] in h for hist in histories.values() for h in hist)]
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4.2 * max(len(keys), 1), 3.2), squeeze=False)
    for ax, (key, label, log) in zip(axes[0], keys, strict=False):
        for name, hist in histories.items():
            pts = [(h["epoch"], h[key]) for h in hist if key in h]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=name if len(histories) <= 12 else None)
        ax.set(xlabel="epoch", ylabel=label, title=label)
        if log and all(h.get(key, 1) > 0 for hist in histories.values() for h in hist):
            ax.set_yscale("log")
        if len(histories) <= 12:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _table(rows: list[dict[str, Any]], cols: list[str], left: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th class='{'l' if c in left else ''}'>{_esc(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td class='{'l' if c in left else ''}'>{_fmt(r.get(c, ''))}</td>" for c in cols)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title: str, body: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title><style>{CSS}</style>"
            f"</head><body><h1>{_esc(title)}</h1>{body}<p><small>plasticity · generated {stamp}</small></p>"
            "</body></html>")


def run_html(store: RunStore, run_id: str) -> str:
    run = store.require_run(run_id)
    hist = store.metrics(run_id)
    res = store.results(run_id) or {}
    body = _table([{"id": run_id, "name": run["name"], "status": run["status"], "seed": run["seed"],
                    "git": run["git_rev"], "seconds": run["seconds"]}],
                  ["id", "name", "status", "seed", "git", "seconds"], left=("id", "name", "status", "git"))
    if run.get("message"):
        body += f"<p><b>message:</b> {_esc(run['message'])}</p>"
    if hist:
        body += f"<h2>Learning curves</h2><img src='{png_data_uri(curves_figure({run_id: hist}))}'>"
    if res:
        body += "<h2>Final results</h2>" + _table([{"metric": k, "value": v} for k, v in res.items()
                                                   if not isinstance(v, dict | list)], ["metric", "value"],
                                                  left=("metric",))
    if hist:
        cols = [c for c in ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds") if c in hist[0]]
        body += "<h2>Per epoch</h2>" + _table(hist, cols)
    body += f"<h2>Config</h2><pre>{_esc(json.dumps(run['config'], indent=2))}</pre>"
    if run.get("traceback"):
        body += f"<h2>Traceback</h2><pre>{_esc(run['traceback'])}</pre>"
    return _page(f"run {run_id}", body)


def report_path(store: RunStore, target: str, kind: str = "run") -> Path:
    """Default report file: ``<run folder>/report.html`` (confined to the store's folder) or the sweep's."""
    if kind == "run":
        return store.run_dir(store.require_run(target)) / "report.html"
    from .paths import check_run_id

    return store.path.parent / "sweeps" / check_run_id(target, "sweep id") / "report.html"


def write_run_report(store: RunStore, run_id: str, path: str | Path | None = None) -> Path:
    """Write the run's HTML page (default ``<run_dir>/report.html``)."""
    out = Path(path) if path else report_path(store, run_id, "run")
    atomic_write_text(out, run_html(store, run_id))
    return out


def sweep_html(store: RunStore, sweep_id: str) -> str:
    sweep = store.get_sweep(sweep_id)
    runs = store.list_runs(sweep_id=sweep_id)
    hists = {r["name"] or r["id"]: store.metrics(r["id"]) for r in runs}
    rows = []
    for r in runs:
        res = store.results(r["id"]) or {}
        rows.append({"id": r["id"], "name": r["name"], "status": r["status"], "seed": r["seed"],
                     "test_accuracy": res.get("test_accuracy", ""), "test_loss": res.get("test_loss", ""),
                     "train_loss": res.get("train_loss", ""), "seconds": r["seconds"] or "",
                     "message": (r["message"] or "")[:120]})
    body = f"<p>{len(runs)} trials · " + ", ".join(
        f"{s}: {sum(r['status'] == s for r in runs)}" for s in sorted({r['status'] for r in runs})) + "</p>"
    if any(hists.values()):
        body += f"<h2>Learning curves</h2><img src='{png_data_uri(curves_figure({k: v for k, v in hists.items() if v}))}'>"
    body += "<h2>Trials</h2>" + _table(rows, ["id", "name", "status", "seed", "test_accuracy", "test_loss",
                                             "train_loss", "seconds", "message"],
                                      left=("id", "name", "status", "message"))
    if sweep:
        body += f"<h2>Spec</h2><pre>{_esc(json.dumps(sweep['spec'], indent=2))}</pre>"
    return _page(f"sweep {sweep_id}", body)


def write_sweep_report(store: RunStore, sweep_id: str, path: str | Path | None = None) -> Path:
    """Write the sweep's HTML page (default ``<store folder>/sweeps/<id>/report.html``)."""
    out = Path(path) if path else report_path(store, sweep_id, "sweep")
    atomic_write_text(out, sweep_html(store, sweep_id))
    return out


def study_html(result: dict[str, Any], folder: str | Path) -> str:
    folder = Path(folder)
    paper = result.get("paper", {})
    body = (f"<p><b>{_esc(paper.get('title', result.get('study', '')))}</b> — {_esc(paper.get('authors', ''))} "
            f"({_esc(paper.get('year', ''))}) <a href='{_esc(paper.get('url', ''))}'>{_esc(paper.get('url', ''))}</a>"
            f"</p><p><b>Claim:</b> {_esc(paper.get('claim', ''))}</p>"
            f"<p>scale <b>{_esc(result.get('scale'))}</b> · seeds {_esc(result.get('seeds', ''))} · "
            f"{float(result.get('seconds', 0)):.1f} s · overall "
            f"<span class='{'pass' if result.get('passed') else 'fail'}'>"
            f"{_esc(result.get('status', 'PASS' if result.get('passed') else 'FAIL'))}</span></p>")
    rows = ""
    for c in result.get("checks", []):
        cls = "pass" if c.get("passed") else "fail"
        status = c.get("status") or ("PASS" if c.get("passed") else "FAIL")
        rows += (f"<tr><td class='l'>{_esc(c.get('name'))}</td><td>{_fmt(c.get('measured'))}</td>"
                 f"<td>{_fmt(c.get('paper'))} {_esc(c.get('source', ''))}</td><td class='{cls}'>{_esc(status)}</td>"
                 f"<td class='l'>{_esc('; '.join(x for x in (c.get('detail', ''), c.get('note', '')) if x))}</td></tr>")
    body += ("<h2>Checks: ours vs the paper</h2><table><tr><th class='l'>check</th><th>ours</th><th>wanted</th>"
             f"<th>verdict</th><th class='l'>detail</th></tr>{rows}</table>")
    devs = result.get("deviations", [])
    body += "<h2>Deviations from the paper and its code</h2>" + (
        "<ul>" + "".join(f"<li>{_esc(d)}</li>" for d in devs) + "</ul>" if devs else "<p>none stated</p>")
    for fig in result.get("figures", []):
        p = folder / fig
        if p.is_file():
            body += f"<h3>{_esc(fig)}</h3><img src='{file_data_uri(p)}'>"
    metrics = {k: v for k, v in result.get("metrics", {}).items() if not isinstance(v, dict | list)}
    if metrics:
        body += "<h2>Measured metrics</h2>" + _table([{"metric": k, "value": v} for k, v in metrics.items()],
                                                     ["metric", "value"], left=("metric",))
    body += f"<h2>Config</h2><pre>{_esc(json.dumps(result.get('config', {}), indent=2))}</pre>"
    return _page(f"study {result.get('study', '')} ({result.get('scale', '')})", body)


def record_study(store: RunStore, folder: str | Path, report: str | Path | None = None) -> str:
    """Record a finished study run (its results.json) in the run store as one run; returns the run id.
    Status ``finished`` whether or not its checks passed; ``results.passed`` says which."""
    import uuid

    folder = Path(folder)
    result = json.loads((folder / "results.json").read_text())
    study, scale = str(result.get("study", "study")), str(result.get("scale", ""))
    rid = f"study-{study}-{scale}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    cfg = {"study": study, "scale": scale, "config": result.get("config", {})}
    checks = result.get("checks", [])
    res: dict[str, Any] = {k: v for k, v in result.get("metrics", {}).items() if isinstance(v, int | float | str)}
    res.update({"passed": bool(result.get("passed")), "checks_passed": sum(bool(c.get("passed")) for c in checks),
                "checks": len(checks)})
    store.create_run(rid, cfg, name=f"study {study} ({scale})", seed=int(result.get("seed", 0) or 0))
    arte = {"results": str(folder / "results.json")}
    if report is not None:
        arte["report"] = str(report)
    store.finish_run(rid, "finished", results=res, seconds=float(result.get("seconds", 0.0) or 0.0), artefacts=arte,
                     message=None if result.get("passed") else "some checks failed")
    return rid


def write_study_report(folder: str | Path, path: str | Path | None = None) -> Path:
    """Write ``report.html`` beside a study's ``results.json`` (written by ``Study.run``)."""
    folder = Path(folder)
    result = json.loads((folder / "results.json").read_text())
    out = Path(path) if path else folder / "report.html"
    atomic_write_text(out, study_html(result, folder))
    return out
