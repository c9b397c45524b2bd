"""rich progress bars: epochs of a run (a ``Trainer`` callback) and trials of a sweep."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .trainer import Callback, Trainer


def make_progress(console: Console | None = None) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console, transient=False)


class EpochProgress(Callback):
    """One bar over epochs, advanced at each epoch end with the latest loss/accuracy; step ticks within."""

    def __init__(self, progress: Progress, name: str, epochs: int, start: int = 0) -> None:
        self.progress = progress
        self.task = progress.add_task(name, total=epochs, completed=start, info="")

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        acc = record.get("test_accuracy")
        info = f"loss {record['train_loss']:.4f}" + (f" · acc {100 * acc:.1f}%" if acc is not None else "")
        self.progress.update(self.task, completed=int(record["epoch"]), info=info)


class SweepProgress:
    """Callable for ``run_sweep(on_progress=...)``: one bar over trials."""

    def __init__(self, progress: Progress, name: str, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task(name, total=total, info="")
        self.counts: dict[str, int] = {}

    def __call__(self, done: int, total: int, trial: str, status: str, *_: Any) -> None:
        if status:
            self.counts[status] = self.counts.get(status, 0) + 1
        info = " ".join(f"{k}:{v}" for k, v in sorted(self.counts.items()))
        self.progress.update(self.task, completed=done, total=total, info=info)
