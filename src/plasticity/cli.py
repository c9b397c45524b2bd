"""Command-line lab: ``run``/``resume``, ``runs list|show|compare``, ``report``, ``sweep``, ``compare``,
``study list|run``, ``data download|verify``.

Every usage error (typer/click's own, or a ``PlasticityError`` from validation) prints one line on stderr and
exits 2; bare ``plasticity`` prints the help and exits 0. Heavy libraries (torch, scipy, scikit-learn,
matplotlib) are imported inside the commands, so ``plasticity --help`` and ``study list`` start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from .errors import PlasticityError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="plasticity: learning rules beyond backprop.")
study_app = typer.Typer(no_args_is_help=True, help="Papers as executable studies.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: download and verify.")
app.add_typer(study_app, name="study")
app.add_typer(data_app, name="data")
runs_app = typer.Typer(no_args_is_help=True, help="Inspect the run store.")
app.add_typer(runs_app, name="runs")

STORE_HELP = "run store (SQLite file); default runs/plasticity.db"
NO_STORE_HELP = "do not record this in the run store"


class _Console:
    """A rich console created on first use (rich's import is kept off the ``--help`` path)."""

    def __init__(self, stderr: bool = False) -> None:
        self.stderr = stderr
        self._c: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._c is None:
            from rich.console import Console

            self._c = Console(stderr=self.stderr)
        return getattr(self._c, name)


console = _Console()


def _print(text: str) -> None:
    """Plain line on stdout (no markup: names such as ``sweep[rule=fa]`` print as they are)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _split(csv: str) -> list[str]:
    return [s.strip() for s in csv.split(",") if s.strip()]


def _check_store_path(path: Path | None) -> Path:
    """The store path, validated (folder writable, file a SQLite database) without creating anything."""
    from .lab.store import DEFAULT_STORE, check_store_path

    return check_store_path(path or DEFAULT_STORE)


def _store(path: Path | None, readonly: bool = False):
    from .lab.store import open_store

    return open_store(path, readonly=readonly)


@app.command()
def compare(
    dataset: str = typer.Option("digits", help="digits | mnist | fashion-mnist | xor5d"),
    rules: str = typer.Option("bp,fa,sign,dfa,dfa-optical", help="comma-separated rule names"),
    epochs: int = typer.Option(30, min=1, max=100_000),
    hidden: str = typer.Option("256,256", help="hidden layer widths, comma-separated"),
    model: str = typer.Option("mlp", help="mlp | conv"),
    batch_size: int = typer.Option(32, min=1),
    lr: float = typer.Option(0.02, help="learning rate, in (0, 1000]"),
    optimizer: str = typer.Option("sgd", help="sgd | adam | a geometry: euclidean, negentropy, pnorm, hypentropy, "
                                  "polarity, dale, device"),
    activation: str = typer.Option("relu", help="hidden activation of the MLP"),
    seed: int = typer.Option(0, min=0),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    data_dir: str = typer.Option(None, help="folder holding mnist/ and fashion-mnist/ (or $PLASTICITY_DATA)"),
    out: Path = typer.Option(Path("reports/compare"), help="report folder (results.json, learning_curves.png)"),
    store: Path = typer.Option(None, help=STORE_HELP),
    no_store: bool = typer.Option(False, "--no-store", help=NO_STORE_HELP),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Train each rule on the same model and seed; print a table, write a report folder, record in the store."""
    from .lab.compare import check_compare, compare_rules, record_compare
    from .lab.paths import check_writable_dir

    try:
        widths = [int(h) for h in _split(hidden)]
    except ValueError:
        raise PlasticityError(f"--hidden {hidden!r} must be comma-separated integers, e.g. 256,256") from None
    names = _split(rules)
    check_compare(names, dataset=dataset, epochs=epochs, hidden=widths, model=model, batch_size=batch_size, lr=lr,
                  optimizer=optimizer, seed=seed, device=device, data_dir=data_dir, activation=activation)
    check_writable_dir(out, "--out folder")
    store_path = None if no_store else _check_store_path(store)
    progress = None if quiet else _progress_factory()
    res = compare_rules(names, dataset=dataset, epochs=epochs, hidden=widths, model=model,
                        batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed, device=device,
                        data_dir=data_dir, out=out, progress=progress, activation=activation)
    from rich.table import Table

    table = Table(title=f"{dataset}: {model} {widths}, {epochs} epochs, seed {seed}")
    for col in ("rule", "test acc (%)", "final loss", "angle to BP (°)", "ms/step"):
        table.add_column(col, justify="right")
    for name, r in res["rules"].items():
        acc = "-" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}"
        table.add_row(name, acc, f"{r['final_train_loss']:.4f}", f"{r['alignment_deg']:.1f}", f"{r['ms_per_step']:.2f}")
    console.print(table)
    _print(f"report: {out}/results.json, {out}/learning_curves.png")
    if store_path is not None:
        with _store(store_path) as st:
            group = record_compare(st, res, out)
        _print(f"recorded as {group} in {store_path} (see `plasticity runs list --sweep {group}`)")


def _progress_factory():
    from .lab.trainer import Callback

    class EpochPrinter(Callback):
        def __init__(self, name: str, epochs: int) -> None:
            self.name, self.epochs = name, epochs

        def on_epoch_end(self, trainer, record) -> None:
            if record["epoch"] == self.epochs or record["epoch"] % max(1, self.epochs // 5) == 0:
                acc = record.get("test_accuracy")
                acc_s = f" test acc {100 * acc:.1f}%" if acc is not None else ""
                _print(f"  {self.name:12s} epoch {int(record['epoch']):3d}/{self.epochs}"
                       f" loss {record['train_loss']:.4f}{acc_s}")

    return EpochPrinter


def _study_catalog() -> list[tuple[str, str, str]]:
    """(name, "authors (year)", claim) per study, read from the study modules' source without importing them
    (importing a study imports torch); a module whose ``STUDY`` is not literal falls back to importing it."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("plasticity.studies")
    folders = list(spec.submodule_search_locations or []) if spec else []
    out = []
    for folder in folders:
        for f in sorted(Path(folder).glob("*.py")):
            name = f.stem
            if name in ("base", "common", "__init__") or name.startswith("_"):
                continue
            info: dict[str, Any] = {}
            text = f.read_text()
            if "\nSTUDY = " not in text and not text.startswith("STUDY = "):
                continue  # framework modules (checks, schema, ledger) define no study
            try:
                for node in ast.parse(text).body:
                    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "STUDY" for t in node.targets) \
                            and isinstance(node.value, ast.Call):
                        for kw in node.value.keywords:
                            if kw.arg in ("authors", "year", "claim"):
                                info[kw.arg] = ast.literal_eval(kw.value)
            except (SyntaxError, ValueError):
                info = {}
            if len(info) < 3:
                from .studies import get_study

                s = get_study(name)
                info = {"authors": s.authors, "year": s.year, "claim": s.claim}
            out.append((name, f"{info['authors']} ({info['year']})", str(info["claim"])))
    return out


@study_app.command("list")
def study_list() -> None:
    """List the studies with their paper and claim."""
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for col in ("study", "paper", "claim"):
        table.add_column(col)
    for name, paper, claim in _study_catalog():
        table.add_row(Text(name), Text(paper), Text(claim))
    console.print(table)


@study_app.command("run")
def study_run(
    name: str,
    scale: str = typer.Option("small", help="smoke | small | cpu | paper, or a study's named variant such as cpu-fashion"),
    out: Path = typer.Option(None, help="output folder (default reports/studies/NAME/SCALE)"),
    device: str = typer.Option("cpu"),
    seed: int = typer.Option(0, min=0, help="one seed (ignored when --seeds is given)"),
    seeds: str = typer.Option(None, help="several seeds, e.g. 0-4 or 0,2,5: each check's pass rate over them"),
    record: bool = typer.Option(False, help="write each seed's record to the results ledger (results/)"),
    quiet: bool = typer.Option(False),
    set_: list[str] = typer.Option(None, "--set", help="override a config key of the scale: KEY=VALUE (YAML value)"),
    store: Path = typer.Option(None, help=STORE_HELP),
    no_store: bool = typer.Option(False, "--no-store", help=NO_STORE_HELP),
) -> None:
    """Run a study, print each check (measured vs paper) and the deviations; exit 1 on FAIL, 3 on INCONCLUSIVE."""
    from .errors import check_choice
    from .lab.config import parse_override
    from .lab.paths import check_writable_dir
    from .lab.report import write_study_report
    from .studies import get_study, parse_seeds

    study = get_study(name)
    check_choice("--scale", scale, tuple(study.scales))
    overrides = {".".join(path): value for path, value in map(parse_override, set_ or [])}
    seed_list = parse_seeds(seeds) if seeds is not None else [seed]
    study.config(scale, **overrides)  # validate before any run or write
    if record and overrides:
        raise PlasticityError("--record takes no --set overrides: the ledger holds runs of the study's own "
                              "scale configs")
    check_writable_dir(out or Path("reports") / "studies" / name / scale, "--out folder")
    store_path = None if no_store else _check_store_path(store)
    on_result = None
    if record:
        from .studies import ledger

        check_writable_dir(ledger.default_root(), "results ledger folder")
        revision = ledger.git_revision()  # the code that runs is the code loaded now

        def on_result(r) -> None:
            path = ledger.record(r, device=device, command=["plasticity", *sys.argv[1:]], revision=revision)
            _print(f"recorded {path}")

    if len(seed_list) == 1:
        result = study.run(scale=scale, out_dir=out, device=device, seed=seed_list[0], quiet=quiet, **overrides)
        if on_result is not None:
            on_result(result)
    else:
        result = study.run_seeds(seed_list, scale=scale, out_dir=out, device=device, quiet=quiet,
                                 on_result=on_result, **overrides)
    for c in result.checks:
        _print(c.line())
    held = [s for s in result.seeds if s not in result.tuned_seeds]
    _print(f"verdict: {result.status} over seed(s) {', '.join(map(str, result.seeds))}"
           + (f" (held out: {', '.join(map(str, held))})" if held else " (all tuned on)"))
    _print("deviations from the paper and its code:" if result.deviations else "deviations: none stated")
    for d in result.deviations:
        _print(f"  - {d}")
    report = write_study_report(result.out_dir)
    _print(f"results: {result.out_dir}/results.json, report: {report} ({result.seconds:.1f} s)")
    if store_path is not None:
        from .lab.report import record_study

        with _store(store_path) as st:
            rid = record_study(st, result.out_dir, report)
        _print(f"recorded as {rid} in {store_path}")
    raise typer.Exit(result.exit_code)


def _finish_line(run_id: str, out) -> int:
    from .lab.distributed import launch_rank
    from .lab.runner import interrupted_exit_code

    if launch_rank() != 0:  # data-parallel followers: rank 0 reports
        return interrupted_exit_code(out)
    res = out.results or {}
    acc = res.get("test_accuracy")
    acc_s = f" test acc {100 * acc:.2f}%" if isinstance(acc, float) else ""
    loss_s = f" train loss {res['train_loss']:.4f}" if isinstance(res.get("train_loss"), float) else ""
    msg = f" — {out.message}" if out.message else ""
    resumed = f" (resumed from {Path(out.resumed_from).name})" if out.resumed_from else ""
    _print(f"run {run_id}: {out.status}{resumed}{loss_s}{acc_s} in {out.seconds:.1f} s{msg}")
    return interrupted_exit_code(out)


def _run_with_progress(fn, name: str, epochs: int, quiet: bool):
    from .lab.distributed import launch_rank

    if quiet or launch_rank() != 0:  # data parallel: rank 0 alone draws progress
        return fn([])
    from rich.console import Console

    from .lab.progress import EpochProgress, make_progress

    with make_progress(Console(stderr=True)) as prog:
        return fn([EpochProgress(prog, name, epochs)])


@app.command("run")
def run_cmd(
    config: Path = typer.Argument(..., help="run config (YAML)"),
    set_: list[str] = typer.Option(None, "--set", help="override, e.g. --set geometry.lr=0.05 (repeatable)"),
    store: Path = typer.Option(None, help=STORE_HELP),
    run_id: str = typer.Option(None, help="id for the new run (default: name-timestamp-random)"),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Validate CONFIG, data and model, record a run in the store, train with checkpoints;
    exit 0 finished, 1 failed/diverged, 2 invalid input (nothing written)."""
    from .lab.config import load_config
    from .lab.distributed import launch_rank
    from .lab.paths import check_run_id
    from .lab.runner import check_buildable, run_config

    cfg = load_config(config, list(set_ or []))
    if run_id is not None:
        check_run_id(run_id)
    check_buildable(cfg)
    store_path = _check_store_path(store)
    if run_id is not None and launch_rank() == 0 and store_path.exists():
        with _store(store_path, readonly=True) as ro:
            if ro.get_run(run_id) is not None:
                raise PlasticityError(f"run id {run_id!r} already exists in {ro.path}; "
                                      f"use `plasticity resume {run_id}`")
    st = _store(store_path)
    rid, out = _run_with_progress(lambda cbs: run_config(cfg, st, run_id=run_id, callbacks=cbs), cfg.name,
                                  cfg.training.epochs, quiet)
    raise typer.Exit(_finish_line(rid, out))


@app.command("resume")
def resume_cmd(
    run_id: str = typer.Argument(..., help="id of an interrupted/failed run"),
    store: Path = typer.Option(None, help=STORE_HELP),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Continue a run from its newest valid checkpoint (a corrupt newest one falls back to the previous);
    a run with no valid checkpoint is an error, never a silent restart."""
    from .lab.paths import check_run_id
    from .lab.runner import check_resumable, resume_run

    check_run_id(run_id)
    store_path = _check_store_path(store)
    if not store_path.exists():
        raise PlasticityError(f"no run {run_id!r}: store {str(store_path)!r} does not exist")
    with _store(store_path, readonly=True) as ro:
        run = check_resumable(ro, run_id)
    st = _store(store_path)
    epochs = int(run["config"].get("training", {}).get("epochs", 0))
    rid, out = _run_with_progress(lambda cbs: resume_run(st, run_id, callbacks=cbs), run_id, epochs, quiet)
    raise typer.Exit(_finish_line(rid, out))


def _existing_store(path: Path | None):
    """Open an existing store read-only (no write lock is ever taken); a missing one is a one-line error."""
    p = _check_store_path(path)
    if not p.exists():
        raise PlasticityError(f"store {str(p)!r} does not exist yet; run something first or pass --store PATH")
    return _store(p, readonly=True)


@runs_app.command("list")
def runs_list(
    store: Path = typer.Option(None, help=STORE_HELP),
    sweep: str = typer.Option(None, help="only this sweep's (or compare's) runs"),
    status: str = typer.Option(None, help="running | finished | failed | diverged | interrupted"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable: one JSON list of runs"),
) -> None:
    """One line per run: id, name, status, rule, seed, epochs done, test accuracy (full ids when piped)."""
    import json

    from .errors import check_choice
    from .lab.store import STATUSES

    if status is not None:
        check_choice("--status", status, STATUSES)
    with _existing_store(store) as st:
        rows = []
        for r in st.list_runs(sweep_id=sweep, status=status):
            res = st.results(r["id"]) or {}
            acc = res.get("test_accuracy")
            rows.append({"id": r["id"], "name": r["name"] or "", "status": r["status"], "sweep": r["sweep_id"],
                         "rule": str(r["config"].get("rule", {}).get("name", "")), "seed": r["seed"],
                         "epoch": r["epoch"] or 0, "test_accuracy": acc if isinstance(acc, float) else None,
                         "seconds": r["seconds"]})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    cols = ("id", "name", "status", "rule", "seed", "epoch", "test acc (%)", "seconds")
    cells = [[r["id"], r["name"], r["status"], r["rule"], str(r["seed"]), str(r["epoch"]),
              "-" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}",
              f"{r['seconds']:.1f}" if r["seconds"] else "-"] for r in rows]
    if not sys.stdout.isatty():  # piped: tab-separated, nothing cut
        sys.stdout.write("".join("\t".join(c) + "\n" for c in [list(cols), *cells]))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table()
    id_width = max([len(c[0]) for c in cells] + [2])
    for i, col in enumerate(cols):  # the id column is never cut: other columns wrap instead
        table.add_column(col, no_wrap=i == 0, min_width=id_width if i == 0 else None, overflow="fold")
    for c in cells:
        table.add_row(*[Text(x) for x in c])
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: str, store: Path = typer.Option(None, help=STORE_HELP)) -> None:
    """A run's status, config, per-epoch metrics, results and artefacts."""
    import json

    with _existing_store(store) as st:
        r = st.require_run(run_id)
        hist, results, artefacts = st.metrics(run_id), st.results(run_id), st.artefacts(run_id)
    _print(f"run {run_id}: {r['status']} · seed {r['seed']} · git {r['git_rev']} · dir {r['run_dir']}")
    if r["message"]:
        _print(f"message: {r['message']}")
    _print(json.dumps(r["config"], indent=2))
    if hist:
        from rich.table import Table

        table = Table(title="per epoch")
        cols = [c for c in ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds") if c in hist[0]]
        for c in cols:
            table.add_column(c, justify="right")
        for h in hist:
            table.add_row(*[f"{h[c]:.4g}" if isinstance(h.get(c), float) else str(h.get(c, "")) for c in cols])
        console.print(table)
    _print(f"results: {json.dumps(results)}")
    _print(f"artefacts: {json.dumps(artefacts)}")


@runs_app.command("compare")
def runs_compare(run_ids: list[str] = typer.Argument(..., help="two or more run ids"),
                 store: Path = typer.Option(None, help=STORE_HELP)) -> None:
    """Side by side: the config keys that differ and the final metrics."""
    from rich.table import Table
    from rich.text import Text

    from .lab.sweep import _flat

    if len(run_ids) < 2:
        raise PlasticityError("runs compare needs two or more run ids")
    with _existing_store(store) as st:
        runs = [st.require_run(r) for r in run_ids]
        results = [st.results(r["id"]) or {} for r in runs]
    flats = [_flat(r["config"]) for r in runs]
    keys = sorted({k for f in flats for k in f if len({str(g.get(k)) for g in flats}) > 1})
    metrics = sorted({k for res in results for k, v in res.items() if isinstance(v, int | float)})
    table = Table()
    table.add_column("")
    for r in runs:
        table.add_column(Text(r["id"]))
    table.add_row("status", *[r["status"] for r in runs])
    for k in keys:
        table.add_row(Text(k), *[Text(str(f.get(k, ""))) for f in flats])
    for m in metrics:
        table.add_row(Text(m), *[f"{res[m]:.4g}" if isinstance(res.get(m), float) else str(res.get(m, ""))
                                 for res in results])
    console.print(table)


@app.command("report")
def report_cmd(
    target: str = typer.Argument(..., help="a run id or a sweep id"),
    store: Path = typer.Option(None, help=STORE_HELP),
    out: Path = typer.Option(None, help="HTML file (default: in the run's or sweep's folder)"),
) -> None:
    """Write a self-contained HTML report (figures embedded) for a run or a sweep."""
    from .lab.paths import check_writable_file
    from .lab.report import report_path, write_run_report, write_sweep_report

    with _existing_store(store) as st:
        kind = "run" if st.get_run(target) is not None else "sweep" if st.get_sweep(target) is not None else None
        if kind is None:
            raise PlasticityError(f"no run or sweep {target!r} in {st.path}; see `plasticity runs list`")
        path = check_writable_file(out or report_path(st, target, kind), "report file")
        path = (write_run_report if kind == "run" else write_sweep_report)(st, target, path)
    _print(f"report: {path}")


@app.command("sweep")
def sweep_cmd(
    spec: Path = typer.Argument(..., help="sweep YAML: base, set, grid, list"),
    workers: int = typer.Option(2, min=1, max=256, help="parallel trials"),
    executor: str = typer.Option("process", help="process | ray | inline (in the driver, for debugging)"),
    address: str = typer.Option(None, help="Ray address: auto | HOST:PORT (default: start a local instance)"),
    retries: int = typer.Option(0, min=0, max=100, help="re-run a trial whose worker died this many times"),
    store: Path = typer.Option(None, help=STORE_HELP),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Run every unfinished trial; finished ones are skipped, interrupted ones resume, a trial another sweep
    process is running is left to it. A dead worker fails its trial (after --retries) and the sweep goes on.
    Exit 1 if any trial failed."""
    from .errors import check_choice
    from .lab.sweep import check_sweep_outputs, load_sweep, require_ray, run_sweep

    check_choice("--executor", executor, ("process", "ray", "inline"))
    if executor == "ray":
        require_ray()
    plan = load_sweep(spec)
    store_path = _check_store_path(store)
    check_sweep_outputs(store_path, plan)
    st = _store(store_path)
    kw = {"workers": workers, "executor": executor, "address": address, "retries": retries}
    if quiet:
        summary = run_sweep(plan, st, **kw)
    else:
        from rich.console import Console

        from .lab.progress import SweepProgress, make_progress

        with make_progress(Console(stderr=True)) as prog:
            summary = run_sweep(plan, st, on_progress=SweepProgress(prog, plan.name, len(plan.trials)), **kw)
    counts: dict[str, int] = {}
    for sid in summary.ran:
        counts[summary.statuses[sid]] = counts.get(summary.statuses[sid], 0) + 1
    ran = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    elsewhere = f", left to another process {len(summary.elsewhere)}" if summary.elsewhere else ""
    _print(f"sweep {summary.sweep_id}: {summary.total} trials, skipped {len(summary.skipped)}, "
           f"ran {len(summary.ran)} ({ran}){elsewhere}; report: {summary.report}")
    raise typer.Exit(0 if summary.ok else 1)


@data_app.command("download")
def data_download(
    name: str = typer.Argument(..., help="mnist | fashion-mnist"),
    data_dir: str = typer.Option(None, help="target folder (default $PLASTICITY_DATA or ~/.cache/plasticity/data)"),
    base_url: str = typer.Option(None, help="mirror to download from"),
) -> None:
    """Download a dataset's original files (md5-verified, written atomically)."""
    from .data.download import download

    folder = download(name, data_dir=data_dir, base_url=base_url)
    _print(f"{name}: files verified in {folder}")


@data_app.command("verify")
def data_verify(name: str, data_dir: str = typer.Option(None)) -> None:
    """Check that a dataset's files exist and match their md5."""
    from .data.idx import load_idx_dataset

    d = load_idx_dataset(name, data_dir)
    _print(f"{name}: ok ({d.x_train.shape[0]} train, {d.x_test.shape[0]} test)")


def _click_exception() -> type[BaseException]:
    """click's ``ClickException`` as the installed typer ships it (its own vendored click or the click package)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point. Exit codes: 0 ok, 1 a run/check failed, 2 a usage or input error (one line on stderr, nothing
    written), 130 interrupted. Bare ``plasticity`` (or a bare command group) prints its help and exits 0."""
    args = sys.argv[1:] if argv is None else list(argv)
    click_exc = _click_exception()
    try:
        rv = app(args=args, prog_name="plasticity", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except PlasticityError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    except click_exc as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # asking for nothing is asking for help
            print(ctx.get_help() if ctx is not None else exc.format_message(), flush=True)  # type: ignore[attr-defined]
            return 0
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"error: {_one_line(exc.format_message())}{hint}", file=sys.stderr, flush=True)  # type: ignore[attr-defined]
        return 2
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except BrokenPipeError:  # `plasticity runs list | head`
        sys.stderr.close()
        return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
