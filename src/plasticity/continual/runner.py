"""Train on a task sequence and fill the accuracy matrix R[i, j] (accuracy on task j after task i)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..data.task import TaskData
from ..errors import ConfigError, check_range
from ..lab.trainer import Callback, Trainer, evaluate
from ..rules.base import LearningRule
from ..utils import resolve_device
from .metrics import average_accuracy, backward_transfer, forgetting, forward_transfer
from .projection import ContinualMethod, FineTune
from .tasks import TaskSequence, check_sequence

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]


@dataclass
class ContinualResult:
    """R as nested lists (rows: after task i, columns: task j), the untrained accuracies and the summary metrics."""

    R: list[list[float]]
    initial: list[float]
    acc: float
    bwt: float
    fwt: float
    forgetting: float
    method: str
    rule: str
    seconds: float
    method_info: list[dict[str, Any]] = field(default_factory=list)
    histories: list[list[dict[str, float]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_tasks(model: nn.Module, tasks: Sequence[TaskData], device: torch.device | str = "cpu",
                   loss: str = "auto") -> list[float]:
    """Test accuracy of ``model`` on every task."""
    dev = resolve_device(device)
    return [evaluate(model, t.x_test.to(dev), t.y_test.to(dev), loss)["accuracy"] for t in tasks]


def sgd(lr: float = 0.05, momentum: float = 0.0) -> OptimizerFactory:
    """Factory of plain SGD optimisers (a fresh one per task keeps momentum from leaking across tasks)."""
    check_range("lr", lr, 0.0, low_inclusive=False)
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)


def run_continual(model: nn.Module, rule: LearningRule, tasks: TaskSequence | Sequence[TaskData],
                  method: ContinualMethod | None = None, optimizer: OptimizerFactory | None = None,
                  epochs: int = 1, batch_size: int = 64, device: str | torch.device = "cpu", seed: int = 0,
                  callbacks: Sequence[Callback] = (), log: Callable[[str], None] | None = None) -> ContinualResult:
    """Train ``model`` with ``rule`` on each task in turn, ``method`` transforming the gradients, and fill R.

    A fresh optimiser (``optimizer(params)``, default SGD lr 0.05) is made per task; after each task
    ``method.after_task`` learns (e.g. the HLOP subspaces) and every task's test set is evaluated.
    """
    seq = check_sequence(tasks)
    check_range("epochs", epochs, 1)
    if seq.n_classes < 2:
        raise ConfigError("continual learning here needs classification tasks (n_classes >= 2)")
    method = method or FineTune()
    optimizer = optimizer or sgd()
    dev = resolve_device(device)
    model.to(dev)
    rule.prepare(model)
    method.plan(model, len(seq))
    t0 = time.perf_counter()
    initial = evaluate_tasks(model, seq, dev, rule.loss)
    r: list[list[float]] = []
    histories, infos = [], []
    for i, task in enumerate(seq):
        opt = optimizer([p for p in model.parameters() if p.requires_grad])
        trainer = Trainer(model, rule, opt, task, epochs=epochs, batch_size=batch_size, device=dev,
                          seed=seed * 1009 + i, transforms=[method], callbacks=callbacks)
        histories.append(trainer.fit())
        infos.append(method.after_task(model, task, i))
        r.append(evaluate_tasks(model, seq, dev, rule.loss))
        if log is not None:
            log(f"  {rule.name}/{method.name} after task {i}: " + " ".join(f"{a:.3f}" for a in r[-1]))
    return ContinualResult(R=r, initial=initial, acc=average_accuracy(r), bwt=backward_transfer(r),
                           fwt=forward_transfer(r, initial), forgetting=forgetting(r), method=method.name,
                           rule=rule.name, seconds=time.perf_counter() - t0, method_info=infos,
                           histories=histories)
