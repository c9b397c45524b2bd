"""The rule contract: ``prepare(model)`` once, then ``step(model, x, y)`` leaves the descent direction in ``.grad``.

Every credit-assignment rule is a ``LearningRule``; because its output is ``p.grad``, any
``torch.optim.Optimizer`` (and every geometry in ``plasticity.geometry``) applies it.

The template follows ``torch.optim.Optimizer`` and rain-neuromorphics' ``GradientEstimator.compute_gradient``:
the base ``step`` prepares the rule, zeroes the gradients, switches the rule's hooks on and builds the report;
a rule implements ``compute_gradients`` only. Rule tensors are registered (``register_buffer``) so they follow the
model's device and dtype; generators are registered (``register_generator``) so a run resumes bit-identically;
``state_dict`` carries the hyper-parameters (``get_params``) next to the tensors, like ``param_groups``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_choice

LOSSES = ("auto", "cross_entropy", "mse", "bce")


class UnsupportedModelError(ConfigError, TypeError):
    """A rule was given a model (or a layer inside it) it cannot act on; the message names the module."""


@dataclass
class StepReport:
    """What a rule step returns: the loss (detached tensor), the network output, rule diagnostics."""

    loss: torch.Tensor
    output: torch.Tensor | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def loss_value(self) -> float:
        return float(self.loss)


PLASTIC_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d)


def plastic_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs a rule acts on: every ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d``, in order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, PLASTIC_TYPES)]


NEUTRAL_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)
"""Modules whose weights need no transported error (lookups and per-feature affine maps): rules may leave them to
autograd without changing the credit-assignment scheme."""


def unsupported_weights(model: nn.Module) -> list[str]:
    """Modules whose weights a layer-hook rule cannot reach: parameters of >= 2 dims owned by a module that is
    not a plastic layer (e.g. ``nn.MultiheadAttention.in_proj_weight``, RNN weights, ``Conv3d``), and plastic layers
    inside such a module (``MultiheadAttention.out_proj`` is used functionally, its forward never runs)."""
    bad: list[str] = []
    for name, m in model.named_modules():
        if isinstance(m, PLASTIC_TYPES) or isinstance(m, NEUTRAL_TYPES):
            continue
        if any(p.dim() >= 2 for p in m.parameters(recurse=False)) or (
                type(m).__module__.startswith("torch.nn") and isinstance(m, nn.MultiheadAttention | nn.RNNBase)):
            bad.append(f"{name or '<model>'} ({type(m).__name__})")
    return bad


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
    return 0.5 * F.mse_loss(output, y.to(output.dtype), reduction="sum") / output.shape[0]


def model_float(model: nn.Module) -> tuple[torch.device, torch.dtype] | None:
    """Device and dtype of the model's first floating-point parameter (None for a model without one)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return None


def _cast(t: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``t`` on ``device``; floating tensors take ``dtype``, complex ones its complex counterpart (when one exists)."""
    if t.is_complex():
        target = torch.complex128 if dtype == torch.float64 else t.dtype
        return t.to(device=device, dtype=target)
    if t.is_floating_point():
        return t.to(device=device, dtype=dtype)
    return t.to(device=device)


def _plain(value: Any) -> Any:
    """Hyper-parameter value as plain data for a state dict (nested rules become their own state dicts)."""
    if isinstance(value, LearningRule):
        return {"rule": value.name, "state": value.state_dict()}
    return copy.deepcopy(value)


class LearningRule:
    """Base class of credit-assignment rules.

    Subclasses implement ``compute_gradients(model, x, y)`` (default: autograd of the loss, i.e. backprop) and,
    when they keep per-model state, ``_prepare(model)``. Constructors store their arguments under the same names
    (validated), so ``get_params``/``repr``/``clone`` are complete. ``name`` is the rule's registry key.
    ``supports_bf16`` says whether the conformance suite should run the rule in bfloat16.
    """

    name: ClassVar[str] = "rule"
    supports_bf16: ClassVar[bool] = True
    substrate: ClassVar[str] = "mlp"
    """Which model the conformance suite builds for this rule: mlp, energy, spiking, symstdp, recurrent-lif."""

    def __init__(self, loss: str = "auto", seed: int = 0) -> None:
        self.loss = check_choice("loss", loss, LOSSES)
        self.seed = int(seed)
        self.buffers: dict[str, torch.Tensor] = {}
        self._generators: dict[str, torch.Generator] = {}
        self._handles: list[Any] = []
        self._active = False
        self._prepared_for: int | None = None
        self._like: tuple[torch.device, torch.dtype] | None = None

    # -- registered state --------------------------------------------------------------------
    def register_buffer(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        """Keep ``tensor`` as rule state: saved by ``state_dict``, moved/cast with the model's parameters."""
        t = tensor.detach()
        if self._like is not None:
            t = _cast(t, *self._like)
        self.buffers[key] = t
        return t

    def register_generator(self, key: str, seed: int) -> torch.Generator:
        """A CPU generator seeded with ``seed`` whose state is saved by ``state_dict`` (bit-identical resumes)."""
        g = self._generators.get(key)
        if g is None:
            g = self._generators[key] = torch.Generator().manual_seed(int(seed))
        return g

    def _follow(self, model: nn.Module) -> None:
        """Cast every registered tensor to the model's device and floating dtype (cheap when already there)."""
        like = model_float(model)
        if like is None or like == self._like:
            return
        self._like = like
        for k, v in self.buffers.items():
            self.buffers[k] = _cast(v, *like)

    # -- lifecycle -------------------------------------------------------------------------
    def prepare(self, model: nn.Module) -> LearningRule:
        """Attach to ``model`` (idempotent per model): create feedback state, register hooks."""
        if self._prepared_for == id(model):
            return self
        self.remove()
        self._like = model_float(model)
        for k, v in self.buffers.items():
            if self._like is not None:
                self.buffers[k] = _cast(v, *self._like)
        self._prepare(model)
        self._prepared_for = id(model)
        return self

    def _prepare(self, model: nn.Module) -> None:
        """Subclass hook; the default needs nothing."""

    def add_hook(self, handle: Any) -> None:
        """Keep a hook handle so ``remove`` can detach it."""
        self._handles.append(handle)

    def remove(self) -> None:
        """Detach every hook this rule registered; the model is left as it was before ``prepare``."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._prepared_for = None

    def _ensure_prepared(self, model: nn.Module) -> None:
        if self._prepared_for != id(model):
            self.prepare(model)
        else:
            self._follow(model)

    @property
    def active(self) -> bool:
        """True inside ``step``: feedback hooks act only then (plain ``model(x)`` stays ordinary backprop)."""
        return self._active

    @contextmanager
    def hooks_on(self) -> Iterator[None]:
        """Switch this rule's hooks on for the duration of the block."""
        self._active = True
        try:
            yield
        finally:
            self._active = False

    # -- the step --------------------------------------------------------------------------
    def loss_fn(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return compute_loss(output, y, self.loss)

    def step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        """Fill ``p.grad`` with this rule's direction for batch ``(x, y)`` and report loss, output and diagnostics.

        Existing gradients are cleared first: after the call ``.grad`` holds exactly this step's update.
        """
        self._ensure_prepared(model)
        model.zero_grad(set_to_none=True)
        with self.hooks_on():
            report = self.compute_gradients(model, x, y)
        metrics = {**report.metrics, **self.step_metrics(model)}
        out = None if report.output is None else report.output.detach()
        return StepReport(loss=report.loss.detach(), output=out, metrics=metrics)

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        """Leave this rule's descent direction in ``.grad`` (gradients are zero and hooks on when called).

        The default is backprop: forward, loss, ``loss.backward()`` (feedback rules change it through hooks).
        """
        output = model(x)
        loss = self.loss_fn(output, y)
        loss.backward()
        return StepReport(loss=loss, output=output)

    def step_metrics(self, model: nn.Module) -> dict[str, float]:
        """Per-step scalars added to the report's metrics (e.g. feedback angles); none by default."""
        return {}

    # -- parameters ------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [n for n, p in sig.parameters.items()
                if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def get_params(self) -> dict[str, Any]:
        """The constructor's arguments as stored (``type(rule)(**rule.get_params())`` rebuilds the rule)."""
        return {n: getattr(self, n) for n in self._param_names()}

    def clone(self) -> LearningRule:
        """A fresh, unprepared rule with the same hyper-parameters (nested rules cloned too), without state."""
        params = {k: v.clone() if isinstance(v, LearningRule) else copy.deepcopy(v) for k, v in self.get_params().items()}
        return type(self)(**params)

    def _set_params(self, params: dict[str, Any]) -> None:
        """Adopt saved hyper-parameters (validated by building a rule with them)."""
        plain = {k: v for k, v in params.items() if not (isinstance(v, dict) and "rule" in v and "state" in v)}
        current = self.get_params()
        trial = type(self)(**{**current, **plain})
        for k in plain:
            setattr(self, k, getattr(trial, k))

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Name, hyper-parameters, registered tensors (CPU copies) and generator states."""
        return {"name": self.name,
                "params": {k: _plain(v) for k, v in self.get_params().items()},
                "buffers": {k: v.detach().cpu().clone() for k, v in self.buffers.items()},
                "generators": {k: g.get_state() for k, g in self._generators.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore hyper-parameters, tensors (cast to the current device/dtype) and generator states."""
        if state.get("name", self.name) != self.name:
            raise ConfigError(f"state of rule {state['name']!r} cannot be loaded into rule {self.name!r}")
        self._set_params(state.get("params", {}))
        for k, v in state.get("params", {}).items():
            if isinstance(v, dict) and "state" in v and isinstance(getattr(self, k, None), LearningRule):
                getattr(self, k).load_state_dict(v["state"])
        for k, v in state.get("buffers", {}).items():
            cur = self.buffers.get(k)
            if cur is not None and cur.shape != v.shape:
                raise ConfigError(f"rule state {k!r} has shape {tuple(v.shape)}, expected {tuple(cur.shape)}")
            self.buffers[k] = v.clone() if self._like is None else _cast(v.clone(), *self._like)
        for k, s in state.get("generators", {}).items():
            g = self._generators.get(k)
            if g is None:
                g = self._generators[k] = torch.Generator()
            g.set_state(s)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


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
