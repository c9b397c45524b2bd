"""Command-line lab: ``run``/``resume``, ``runs list|show|compare``, ``report``, ``sweep``, ``compare``,
``study list|run``, ``data download|verify``. User errors print one line and exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .errors import PlasticityError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="plasticity: learning rules beyond backprop.")
study_app = typer.Typer(no_args_is_help=True, help="Papers as executable studies.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: download and verify.")
app.add_typer(study_app, name="study")
app.add_typer(data_app, name="data")
runs_app = typer.Typer(no_args_is_help=True, help="Inspect the run store.")
app.add_typer(runs_app, name="runs")
console = Console()


def _split(csv: str) -> list[str]:
    return [s.strip() for s in csv.split(",") if s.strip()]


@app.command()
def compare(
    dataset: str = typer.Option("digits", help="digits | mnist | fashion-mnist | xor5d"),
    rules: str = typer.Option("bp,fa,sign,dfa,dfa-optical", help="comma-separated rule names"),
    epochs: int = typer.Option(30, min=1),
    hidden: str = typer.Option("256,256", help="hidden layer widths, comma-separated"),
    model: str = typer.Option("mlp", help="mlp | conv"),
    batch_size: int = typer.Option(32, min=1),
    lr: float = typer.Option(0.02),
    optimizer: str = typer.Option("sgd", help="sgd | adam | a geometry: euclidean, negentropy, pnorm, hypentropy, "
                                  "polarity, dale, device"),
    activation: str = typer.Option("relu", help="hidden activation of the MLP"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    data_dir: str = typer.Option(None, help="folder holding mnist/ and fashion-mnist/ (or $PLASTICITY_DATA)"),
    out: Path = typer.Option(Path("reports/compare"), help="report folder (results.json, learning_curves.png)"),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Train each rule on the same model and seed; print a table and write a report folder."""
    from .lab.compare import compare_rules

    try:
        widths = [int(h) for h in _split(hidden)]
    except ValueError:
        raise PlasticityError(f"--hidden {hidden!r} must be comma-separated integers, e.g. 256,256") from None
    progress = None if quiet else _progress_factory()
    res = compare_rules(_split(rules), dataset=dataset, epochs=epochs, hidden=widths, model=model,
                        batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed, device=device,
                        data_dir=data_dir, out=out, progress=progress, activation=activation)
    table = Table(title=f"{dataset}: {model} {widths}, {epochs} epochs, seed {seed}")
    for col in ("rule", "test acc (%)", "final loss", "angle to BP (°)", "ms/step"):
        table.add_column(col, justify="right")
    for name, r in res["rules"].items():
        acc = "-" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}"
        table.add_row(name, acc, f"{r['final_train_loss']:.4f}", f"{r['alignment_deg']:.1f}", f"{r['ms_per_step']:.2f}")
    console.print(table)
    console.print(f"report: {out}/results.json, {out}/learning_curves.png")


def _progress_factory():
    from .lab.trainer import Callback

    class EpochPrinter(Callback):
        def __init__(self, name: str, epochs: int) -> None:
            self.name, self.epochs = name, epochs

        def on_epoch_end(self, trainer, record) -> None:
            if record["epoch"] == self.epochs or record["epoch"] % max(1, self.epochs // 5) == 0:
                acc = record.get("test_accuracy")
                acc_s = f" test acc {100 * acc:.1f}%" if acc is not None else ""
                console.print(f"  {self.name:12s} epoch {int(record['epoch']):3d}/{self.epochs}"
                              f" loss {record['train_loss']:.4f}{acc_s}")

    return EpochPrinter


@study_app.command("list")
def study_list() -> None:
    """List the studies with their paper and claim."""
    from .studies import get_study, list_studies

    table = Table()
    for col in ("study", "paper", "claim"):
        table.add_column(col)
    for name in list_studies():
        s = get_study(name)
        table.add_row(name, f"{s.authors} ({s.year})", s.claim)
    console.print(table)


@study_app.command("run")
def study_run(
    name: str,
    scale: str = typer.Option("small", help="smoke | small | paper"),
    out: Path = typer.Option(None, help="output folder (default reports/studies/NAME/SCALE)"),
    device: str = typer.Option("cpu"),
    seed: int = typer.Option(0, min=0, help="one seed (ignored when --seeds is given)"),
    seeds: str = typer.Option(None, help="several seeds, e.g. 0-4 or 0,2,5: each check's pass rate over them"),
    record: bool = typer.Option(False, help="write each seed's record to the results ledger (results/)"),
    quiet: bool = typer.Option(False),
    set_: list[str] = typer.Option(None, "--set", help="override a config key of the scale: KEY=VALUE (YAML value)"),
) -> None:
    """Run a study, print each check (measured vs paper) and the deviations; exit 1 on FAIL, 3 on INCONCLUSIVE."""
    from .lab.config import parse_override
    from .lab.report import write_study_report
    from .studies import get_study, parse_seeds

    overrides = {".".join(path): value for path, value in map(parse_override, set_ or [])}
    study = get_study(name)
    seed_list = parse_seeds(seeds) if seeds is not None else [seed]
    study.config(scale, **overrides)  # validate before any run or write
    if record and overrides:
        raise PlasticityError("--record takes no --set overrides: the ledger holds runs of the study's own "
                              "scale configs")
    on_result = None
    if record:
        from .studies import ledger

        revision = ledger.git_revision()  # the code that runs is the code loaded now

        def on_result(r) -> None:
            path = ledger.record(r, device=device, command=["plasticity", *sys.argv[1:]], revision=revision)
            console.print(f"recorded {path}", markup=False, highlight=False, soft_wrap=True)

    if len(seed_list) == 1:
        result = study.run(scale=scale, out_dir=out, device=device, seed=seed_list[0], quiet=quiet, **overrides)
        if on_result is not None:
            on_result(result)
    else:
        result = study.run_seeds(seed_list, scale=scale, out_dir=out, device=device, quiet=quiet,
                                 on_result=on_result, **overrides)
    for c in result.checks:
        console.print(c.line(), markup=False, highlight=False, soft_wrap=True)
    held = [s for s in result.seeds if s not in result.tuned_seeds]
    console.print(f"verdict: {result.status} over seed(s) {', '.join(map(str, result.seeds))}"
                  + (f" (held out: {', '.join(map(str, held))})" if held else " (all tuned on)"),
                  markup=False, highlight=False, soft_wrap=True)
    console.print("deviations from the paper and its code:" if result.deviations else "deviations: none stated",
                  markup=False, highlight=False)
    for d in result.deviations:
        console.print(f"  - {d}", markup=False, highlight=False, soft_wrap=True)
    report = write_study_report(result.out_dir)
    console.print(f"results: {result.out_dir}/results.json, report: {report} ({result.seconds:.1f} s)",
                  soft_wrap=True)
    raise typer.Exit(result.exit_code)


STORE_HELP = "run store (SQLite file); default runs/plasticity.db"


def _store(path: Path | None):
    from .lab.store import open_store

    return open_store(path)


def _err_console() -> Console:
    return Console(stderr=True)


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
    console.print(f"run {run_id}: {out.status}{resumed}{loss_s}{acc_s} in {out.seconds:.1f} s{msg}",
                  markup=False, highlight=False)
    return interrupted_exit_code(out)


def _run_with_progress(fn, name: str, epochs: int, quiet: bool):
    if quiet:
        return fn([])
    from .lab.progress import EpochProgress, make_progress

    with make_progress(_err_console()) as prog:
        return fn([EpochProgress(prog, name, epochs)])


@app.command("run")
def run_cmd(
    config: Path = typer.Argument(..., help="run config (YAML)"),
    set_: list[str] = typer.Option(None, "--set", help="override, e.g. --set geometry.lr=0.05 (repeatable)"),
    store: Path = typer.Option(None, help=STORE_HELP),
    run_id: str = typer.Option(None, help="id for the new run (default: name-timestamp-random)"),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Validate CONFIG, record a run in the store, train with checkpoints; exit 0 finished, 1 failed/diverged."""
    from .lab.config import load_config
    from .lab.runner import check_buildable, run_config

    cfg = load_config(config, list(set_ or []))
    check_buildable(cfg)
    st = _store(store)
    from .lab.distributed import launch_rank

    if run_id is not None and launch_rank() == 0 and st.get_run(run_id) is not None:
        raise PlasticityError(f"run id {run_id!r} already exists in {st.path}; use `plasticity resume {run_id}`")
    rid, out = _run_with_progress(lambda cbs: run_config(cfg, st, run_id=run_id, callbacks=cbs), cfg.name,
                                  cfg.training.epochs, quiet)
    raise typer.Exit(_finish_line(rid, out))


@app.command("resume")
def resume_cmd(
    run_id: str = typer.Argument(..., help="id of an interrupted/failed run"),
    store: Path = typer.Option(None, help=STORE_HELP),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Continue a run from its newest valid checkpoint (a corrupt newest one falls back to the previous)."""
    from .lab.runner import resume_run

    st = _store(store)
    run = st.require_run(run_id)
    epochs = int(run["config"].get("training", {}).get("epochs", 0))
    rid, out = _run_with_progress(lambda cbs: resume_run(st, run_id, callbacks=cbs), run_id, epochs, quiet)
    raise typer.Exit(_finish_line(rid, out))


@runs_app.command("list")
def runs_list(
    store: Path = typer.Option(None, help=STORE_HELP),
    sweep: str = typer.Option(None, help="only this sweep's trials"),
    status: str = typer.Option(None, help="running | finished | failed | diverged | interrupted"),
) -> None:
    """One line per run: id, name, status, rule, seed, epochs done, test accuracy."""
    st = _store(store)
    st.mark_stale()
    table = Table()
    for col in ("id", "name", "status", "rule", "seed", "epoch", "test acc (%)", "seconds"):
        table.add_column(col)
    for r in st.list_runs(sweep_id=sweep, status=status):
        res = st.results(r["id"]) or {}
        acc = res.get("test_accuracy")
        table.add_row(r["id"], r["name"] or "", r["status"], str(r["config"].get("rule", {}).get("name", "")),
                      str(r["seed"]), str(r["epoch"] or 0), f"{100 * acc:.2f}" if isinstance(acc, float) else "-",
                      f"{r['seconds']:.1f}" if r["seconds"] else "-")
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: str, store: Path = typer.Option(None, help=STORE_HELP)) -> None:
    """A run's status, config, per-epoch metrics, results and artefacts."""
    import json

    st = _store(store)
    st.mark_stale()
    r = st.require_run(run_id)
    console.print(f"run {run_id}: {r['status']} · seed {r['seed']} · git {r['git_rev']} · dir {r['run_dir']}",
                  markup=False, highlight=False)
    if r["message"]:
        console.print(f"message: {r['message']}", markup=False, highlight=False)
    console.print(json.dumps(r["config"], indent=2), markup=False, highlight=False)
    hist = st.metrics(run_id)
    if hist:
        table = Table(title="per epoch")
        cols = [c for c in ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds") if c in hist[0]]
        for c in cols:
            table.add_column(c, justify="right")
        for h in hist:
            table.add_row(*[f"{h[c]:.4g}" if isinstance(h[c], float) else str(h[c]) for c in cols])
        console.print(table)
    console.print(f"results: {json.dumps(st.results(run_id))}", markup=False, highlight=False)
    console.print(f"artefacts: {json.dumps(st.artefacts(run_id))}", markup=False, highlight=False)


@runs_app.command("compare")
def runs_compare(run_ids: list[str] = typer.Argument(..., help="two or more run ids"),
                 store: Path = typer.Option(None, help=STORE_HELP)) -> None:
    """Side by side: the config keys that differ and the final metrics."""
    from .lab.sweep import _flat

    st = _store(store)
    runs = [st.require_run(r) for r in run_ids]
    flats = [_flat(r["config"]) for r in runs]
    keys = sorted({k for f in flats for k in f if len({str(g.get(k)) for g in flats}) > 1})
    results = [st.results(r["id"]) or {} for r in runs]
    metrics = sorted({k for res in results for k, v in res.items() if isinstance(v, int | float)})
    table = Table()
    table.add_column("")
    for r in runs:
        table.add_column(r["id"])
    table.add_row("status", *[r["status"] for r in runs])
    for k in keys:
        table.add_row(k, *[str(f.get(k, "")) for f in flats])
    for m in metrics:
        table.add_row(m, *[f"{res[m]:.4g}" if isinstance(res.get(m), float) else str(res.get(m, "")) for res in results])
    console.print(table)


@app.command("report")
def report_cmd(
    target: str = typer.Argument(..., help="a run id or a sweep id"),
    store: Path = typer.Option(None, help=STORE_HELP),
    out: Path = typer.Option(None, help="HTML file (default: in the run's or sweep's folder)"),
) -> None:
    """Write a self-contained HTML report (figures embedded) for a run or a sweep."""
    from .lab.report import write_run_report, write_sweep_report

    st = _store(store)
    if st.get_run(target) is not None:
        path = write_run_report(st, target, out)
    elif st.get_sweep(target) is not None:
        path = write_sweep_report(st, target, out)
    else:
        raise PlasticityError(f"no run or sweep {target!r} in {st.path}; see `plasticity runs list`")
    console.print(f"report: {path}", markup=False, highlight=False)


@app.command("sweep")
def sweep_cmd(
    spec: Path = typer.Argument(..., help="sweep YAML: base, set, grid, list"),
    workers: int = typer.Option(2, min=1, help="parallel trials"),
    executor: str = typer.Option("process", help="process | ray | inline (in the driver, for debugging)"),
    address: str = typer.Option(None, help="Ray address: auto | HOST:PORT (default: start a local instance)"),
    store: Path = typer.Option(None, help=STORE_HELP),
    quiet: bool = typer.Option(False, help="no progress output"),
) -> None:
    """Run every unfinished trial; finished ones are skipped, interrupted ones resume. Exit 1 if any failed."""
    from .errors import check_choice
    from .lab.sweep import load_sweep, require_ray, run_sweep

    check_choice("executor", executor, ("process", "ray", "inline"))
    if executor == "ray":
        require_ray()
    plan = load_sweep(spec)
    st = _store(store)
    if quiet:
        summary = run_sweep(plan, st, workers=workers, executor=executor, address=address)
    else:
        from .lab.progress import SweepProgress, make_progress

        with make_progress(_err_console()) as prog:
            summary = run_sweep(plan, st, workers=workers, executor=executor, address=address,
                                on_progress=SweepProgress(prog, plan.name, len(plan.trials)))
    counts: dict[str, int] = {}
    for sid in summary.ran:
        counts[summary.statuses[sid]] = counts.get(summary.statuses[sid], 0) + 1
    ran = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    console.print(f"sweep {summary.sweep_id}: {summary.total} trials, skipped {len(summary.skipped)}, "
                  f"ran {len(summary.ran)} ({ran}); report: {summary.report}", markup=False, highlight=False)
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
    console.print(f"{name}: files verified in {folder}")


@data_app.command("verify")
def data_verify(name: str, data_dir: str = typer.Option(None)) -> None:
    """Check that a dataset's files exist and match their md5."""
    from .data.idx import load_idx_dataset

    d = load_idx_dataset(name, data_dir)
    console.print(f"{name}: ok ({d.x_train.shape[0]} train, {d.x_test.shape[0]} test)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one line (no traceback) and exit 2."""
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int):
            return rv
    except PlasticityError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
