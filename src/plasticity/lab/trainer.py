"""``Trainer``: the DESIGN.md loop (rule.step -> transforms -> optimizer.step) with evaluation and history.

It adds no learning logic: everything that changes a weight is the rule, a transform or the optimizer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..data.batches import batches, n_batches
from ..data.task import TaskData
from ..errors import ConfigError, DivergenceError, check_range
from ..rules.base import LearningRule, compute_loss
from ..utils import resolve_device

Transform = Callable[[nn.Module], None]


class Callback:
    """Optional hooks called by ``Trainer``; override what you need."""

    def on_step_end(self, trainer: Trainer, report: Any) -> None: ...

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None: ...


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str = "auto",
             batch_size: int = 1024) -> dict[str, float]:
    """Mean loss and (for integer labels) accuracy of ``model`` on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    total, correct, n = 0.0, 0, x.shape[0]
    for i in range(0, n, batch_size):
        out = model(x[i : i + batch_size])
        yb = y[i : i + batch_size]
        total += float(compute_loss(out, yb, loss)) * yb.shape[0]
        if not torch.is_floating_point(yb):
            correct += int((out.argmax(1) == yb).sum())
    model.train(was_training)
    res = {"loss": total / max(n, 1)}
    if not torch.is_floating_point(y):
        res["accuracy"] = correct / max(n, 1)
    return res


def correct_per_example(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Bool ``[n]`` on the CPU: whether ``model`` (in eval mode) classifies each example of (x, y) right. Kept per
    example so two models scored on the same examples can be compared paired (``studies.paired_diff_se``)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(xb).argmax(1) == yb for xb, yb in
                         zip(x.split(batch_size), y.split(batch_size), strict=True)]).cpu()
    model.train(was_training)
    return out


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    """True when no tensor holds NaN/inf. Fast path: one sum per tensor (a NaN/inf anywhere makes the sum
    non-finite); only when a sum is non-finite (or overflowed) is every element checked."""
    if not tensors:
        return True
    sums = torch.stack([t.detach().sum(dtype=torch.float32) for t in tensors])
    if bool(torch.isfinite(sums).all()):
        return True
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def check_finite(model: nn.Module, loss: torch.Tensor, step: int, weights: bool = False) -> None:
    """Raise ``DivergenceError`` naming the step and the first non-finite loss, gradient (or weight) and its layer.

    The error carries ``.step`` and ``.where`` (e.g. ``'gradient of layers.1.weight'``) for the run store.
    """
    params = list(model.named_parameters())
    loss_ok = bool(torch.isfinite(loss).all())
    if loss_ok and _all_finite([p.grad for _, p in params if p.grad is not None]) and (
            not weights or _all_finite([p.detach() for _, p in params])):
        return
    where = "loss"
    if loss_ok:
        for name, p in params:
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                where = f"gradient of {name}"
                break
            if weights and not bool(torch.isfinite(p.detach()).all()):
                where = f"weight {name}"
                break
    if where == "loss" and params:  # name the layer that blew up: the largest weights
        mags = [(float(p.detach().abs().max()) if p.numel() else 0.0, n) for n, p in params]
        big, name = max(mags, key=lambda t: (not math.isfinite(t[0]), t[0]))
        where = f"loss; largest weights in {name} (max |w| {big:.3g})"
    loss_s = f"{float(loss):.4g}" if loss.numel() == 1 else "tensor"
    err = DivergenceError(f"training diverged at step {step}: non-finite {where} (loss={loss_s}); "
                          "lower the learning rate or check the inputs")
    err.step, err.where = step, where  # type: ignore[attr-defined]
    raise err


class Trainer:
    """Train ``model`` with ``rule`` and ``optimizer`` on ``data`` for ``epochs``; keeps a metrics history.

    ``transforms`` run between ``rule.step`` and ``optimizer.step`` (e.g. orthogonal projection);
    ``callbacks`` observe steps and epochs (checkpointing, progress). Resuming: set ``epoch`` and
    ``batch_in_epoch`` (and restore states) before ``fit``; batch order is a function of (seed, epoch).
    """

    def __init__(self, model: nn.Module, rule: LearningRule, optimizer: torch.optim.Optimizer, data: TaskData,
                 epochs: int = 10, batch_size: int = 64, device: str | torch.device = "cpu", seed: int = 0,
                 transforms: Sequence[Transform] = (), callbacks: Sequence[Callback] = (),
                 check_divergence: bool = True, eval_train: bool = False,
                 divergence_factor: float | None = 1000.0) -> None:
        check_range("epochs", epochs, 0)
        check_range("batch_size", batch_size, 1)
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        self.rule = rule
        self.optimizer = optimizer
        self.data = data.to(self.device)
        self.epochs, self.batch_size, self.seed = int(epochs), int(batch_size), int(seed)
        self.transforms, self.callbacks = list(transforms), list(callbacks)
        self.check_divergence, self.eval_train = check_divergence, eval_train
        if divergence_factor is not None:
            check_range("divergence_factor", divergence_factor, 1.0, low_inclusive=False)
        self.divergence_factor = divergence_factor
        self.initial_loss: float | None = None
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.batch_in_epoch = 0
        self.global_step = 0
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_count = 0
        self.step_seconds = 0.0
        if data.x_train.shape[0] == 0:
            raise ConfigError(f"dataset {data.name!r} has no training samples")
        rule.prepare(self.model)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> Any:
        """One rule step, the transforms, one optimizer step."""
        return self._apply(self.rule.step(self.model, x, y))

    def _apply(self, report: Any) -> Any:
        """After the rule has filled ``.grad``: transforms, divergence checks, optimizer step."""
        for t in self.transforms:
            t(self.model)
        if self.check_divergence:
            check_finite(self.model, report.loss, self.global_step)
            if self.divergence_factor is not None and report.loss.numel() == 1:
                self._check_blowup(float(report.loss))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.check_divergence:
            bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p.detach()).all())] \
                if not _all_finite([p.detach() for p in self.model.parameters()]) else []
            if bad:
                err = DivergenceError(f"training diverged at step {self.global_step}: non-finite weight {bad[0]} "
                                      "after the optimizer step; lower the learning rate")
                err.step, err.where = self.global_step, f"weight {bad[0]}"  # type: ignore[attr-defined]
                raise err
        return report

    def _check_blowup(self, loss: float) -> None:
        """Finite divergence: the loss exceeds ``divergence_factor`` x the first step's loss (floored at 1e-3).
        ``check_finite`` has already synchronised on the loss this step, so reading it costs nothing more."""
        if self.initial_loss is None:
            self.initial_loss = loss
            return
        limit = self.divergence_factor * max(abs(self.initial_loss), 1e-3)  # type: ignore[operator]
        if loss <= limit:
            return
        params = list(self.model.named_parameters())
        where = ""
        if params:
            big, name = max((float(p.detach().abs().max()) if p.numel() else 0.0, n) for n, p in params)
            where = f"; largest weights in {name} (max |w| {big:.3g})"
        err = DivergenceError(f"training diverged at step {self.global_step}: loss {loss:.4g} exceeds "
                              f"{self.divergence_factor:g} x the initial loss {self.initial_loss:.4g}{where}; "
                              "lower the learning rate (or raise training.divergence_factor)")
        err.step, err.where = self.global_step, where.removeprefix("; ")  # type: ignore[attr-defined]
        raise err

    def fit(self) -> list[dict[str, float]]:
        """Run the remaining epochs; returns ``history`` (one dict per epoch)."""
        self.model.train()
        d = self.data
        per_epoch = n_batches(d.x_train.shape[0], self.batch_size)
        while self.epoch < self.epochs:
            t0 = time.perf_counter()
            for x, y in batches(d.x_train, d.y_train, self.batch_size, self.seed, self.epoch, start=self.batch_in_epoch):
                report = self.train_step(x, y)
                self._loss_sum += report.loss
                self._loss_count += 1
                self.batch_in_epoch += 1
                self.global_step += 1
                for cb in self.callbacks:
                    cb.on_step_end(self, report)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds = time.perf_counter() - t0
            self.step_seconds += seconds
            record = self._epoch_record(seconds, per_epoch)
            self.history.append(record)
            self.epoch += 1
            self.batch_in_epoch = 0
            self._loss_sum.zero_()
            self._loss_count = 0
            for cb in self.callbacks:
                cb.on_epoch_end(self, record)
        return self.history

    def _epoch_record(self, seconds: float, per_epoch: int) -> dict[str, float]:
        d = self.data
        train_loss = float(self._loss_sum) / max(self._loss_count, 1)
        test = evaluate(self.model, d.x_test, d.y_test, self.rule.loss)
        rec = {"epoch": self.epoch + 1, "train_loss": train_loss, "test_loss": test["loss"],
               "seconds": seconds, "ms_per_step": 1000 * seconds / max(self._loss_count, 1)}
        if "accuracy" in test:
            rec["test_accuracy"] = test["accuracy"]
        if self.eval_train:
            tr = evaluate(self.model, d.x_train, d.y_train, self.rule.loss)
            rec.update({f"train_{k}_eval": v for k, v in tr.items()})
        if not math.isfinite(train_loss) and self.check_divergence:
            raise DivergenceError(f"training diverged in epoch {self.epoch + 1}: mean loss {train_loss}")
        return rec
