"""The rule contract: ``prepare(model)`` once, then ``step(model, x, y)`` leaves the descent direction in ``.grad``.

Every credit-assignment rule is a ``LearningRule``; because its output is ``p.grad``, any
``torch.optim.Optimizer`` (and every geometry in ``plasticity.geometry``) applies it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_choice

LOSSES = ("auto", "cross_entropy", "mse", "bce")


@dataclass
class StepReport:
    """What a rule step returns: the loss (detached tensor), the network output, rule diagnostics."""

    loss: torch.Tensor
    output: torch.Tensor | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def loss_value(self) -> float:
        return float(self.loss)


def plastic_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs a rule acts on: every ``nn.Linear`` and ``nn.Conv2d``, in registration order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def compute_loss(output: torch.Tensor, y: torch.Tensor, kind: str = "auto") -> torch.Tensor:
    """Cross-entropy for integer labels, MSE for float targets (``kind='auto'``), or the named loss.

    ``bce``: sigmoid outputs with binary cross-entropy against one-hot labels (Nøkland 2016's DFA setting).
    """
    if kind == "bce":
        if y.dim() != 1 or y.shape[0] != output.shape[0]:
            raise ConfigError(f"labels of shape {tuple(y.shape)} do not match outputs {tuple(output.shape)}")
        target = F.one_hot(y, output.shape[1]).to(output.dtype)
        return F.binary_cross_entropy_with_logits(output, target)
    if kind == "auto":
        kind = "cross_entropy" if not torch.is_floating_point(y) else "mse"
    if kind == "cross_entropy":
        if y.dim() != 1 or y.shape[0] != output.shape[0]:
            raise ConfigError(f"labels of shape {tuple(y.shape)} do not match outputs {tuple(output.shape)}")
        return F.cross_entropy(output, y)
    if y.shape != output.shape:
        if y.dim() == 1 and output.dim() == 2 and output.shape[1] == 1 and y.shape[0] == output.shape[0]:
            y = y.unsqueeze(1)
        else:
            raise ConfigError(f"targets of shape {tuple(y.shape)} do not match outputs {tuple(output.shape)}")
    return 0.5 * F.mse_loss(output, y, reduction="sum") / output.shape[0]


class LearningRule:
    """Base class of credit-assignment rules.

    Subclasses override ``_prepare`` (feedback matrices, hooks) and, when the update is not
    autograd-of-a-loss, ``step``. State that defines the rule (feedback matrices, traces) lives
    in ``self.buffers`` so ``state_dict``/``load_state_dict`` save and restore it.
    """

    name = "rule"

    def __init__(self, loss: str = "auto", seed: int = 0) -> None:
        self.loss = check_choice("loss", loss, LOSSES)
        self.seed = int(seed)
        self.buffers: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []
        self._active = False
        self._prepared_for: int | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def prepare(self, model: nn.Module) -> LearningRule:
        """Attach to ``model`` (idempotent per model): create feedback state, register hooks."""
        if self._prepared_for == id(model):
            return self
        self.remove()
        self._prepare(model)
        self._prepared_for = id(model)
        return self

    def _prepare(self, model: nn.Module) -> None:
        """Subclass hook; the default needs nothing."""

    def remove(self) -> None:
        """Detach every hook this rule registered; the model is left as it was before ``prepare``."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._prepared_for = None

    def _ensure_prepared(self, model: nn.Module) -> None:
        if self._prepared_for != id(model):
            self.prepare(model)

    # -- the step --------------------------------------------------------------------------
    def loss_fn(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return compute_loss(output, y, self.loss)

    def step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        """Forward ``x``, compute the loss on ``y``, and fill ``p.grad`` with this rule's direction.

        Existing gradients are cleared first: after the call ``.grad`` holds exactly this step's update.
        """
        self._ensure_prepared(model)
        model.zero_grad(set_to_none=True)
        self._active = True
        try:
            output = model(x)
            loss = self.loss_fn(output, y)
            self._backward(model, output, loss, y)
        finally:
            self._active = False
        return StepReport(loss=loss.detach(), output=output.detach(), metrics=self._metrics())

    def _backward(self, model: nn.Module, output: torch.Tensor, loss: torch.Tensor, y: torch.Tensor) -> None:
        loss.backward()

    def _metrics(self) -> dict[str, float]:
        return {}

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Rule state (feedback matrices etc.) as CPU tensors plus the constructor's seed."""
        return {"name": self.name, "seed": self.seed,
                "buffers": {k: v.detach().cpu().clone() for k, v in self.buffers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore buffers saved by ``state_dict``; shapes must match those created by ``prepare``."""
        for k, v in state.get("buffers", {}).items():
            if k in self.buffers and self.buffers[k].shape != v.shape:
                raise ConfigError(f"rule state {k!r} has shape {tuple(v.shape)}, expected {tuple(self.buffers[k].shape)}")
            dev = self.buffers[k].device if k in self.buffers else v.device
            if k in self.buffers:
                self.buffers[k].copy_(v.to(dev))
            else:
                self.buffers[k] = v.clone()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loss={self.loss!r}, seed={self.seed})"


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def init_like(weight: torch.Tensor, seed: int, scale: str = "match") -> torch.Tensor:
    """A fixed random tensor shaped like ``weight``: uniform, with the std of ``weight`` (``scale='match'``)
    or Kaiming-uniform for its fan-in (``scale='kaiming'``). Created on CPU from ``seed``, then moved."""
    g = _generator(seed)
    b = torch.rand(weight.shape, generator=g, dtype=torch.float32) * 2 - 1
    if scale == "match":
        std = float(weight.detach().float().std())
        b = b * (std * 3**0.5 if std > 0 else 1.0)
    elif scale == "kaiming":
        fan_in = weight[0].numel()
        b = b * (1.0 / fan_in) ** 0.5
    else:
        raise ConfigError(f"unknown feedback scale {scale!r}; allowed: kaiming, match")
    return b.to(device=weight.device, dtype=weight.dtype)


HookFn = Callable[..., Any]
