"""Command-line lab: ``plasticity compare``, ``plasticity study list|run``, ``plasticity data download``."""

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
    optimizer: str = typer.Option("sgd", help="sgd | adam"),
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
                        data_dir=data_dir, out=out, progress=progress)
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
    seed: int = typer.Option(0),
    quiet: bool = typer.Option(False),
) -> None:
    """Run a study, print PASS/FAIL per check (measured vs paper); exit 1 if any check failed."""
    from .studies import get_study

    result = get_study(name).run(scale=scale, out_dir=out, device=device, seed=seed, quiet=quiet)
    for c in result.checks:
        console.print(c.line(), markup=False, highlight=False, soft_wrap=True)
    console.print(f"results: {result.out_dir}/results.json ({result.seconds:.1f} s)")
    raise typer.Exit(0 if result.passed else 1)


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
        app(args=argv, standalone_mode=False)
    except PlasticityError as exc:
        Console(stderr=True, soft_wrap=True).print(f"error: {exc}", markup=False, highlight=False)
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
