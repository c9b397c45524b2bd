"""Feedback alignment (Lillicrap et al. 2016), sign symmetry (Liao et al. 2016) and its sign-concordant variants.

All replace the transpose of W in the backward pass of every Linear/Conv1d/Conv2d layer by a feedback tensor B
of W's shape: ``dL/dx = B^T δ`` instead of ``W^T δ``; ``dL/dW = δ x^T`` is unchanged. FA draws B once at random
(fixed, seeded, saved with the rule); sign symmetry uses ``sign(W) * mean|W|``; the sign-concordant feedbacks of
Liao, Leibo & Poggio (AAAI 2016, sec. 3) use ``|M| ∘ sign(W)`` with a random magnitude M redrawn every batch
(brSF) or drawn once (frSF). B = W recovers backprop exactly (the paper's B = Wᵀ in column-vector notation).

A weight the layer hooks cannot reach (used functionally, e.g. inside ``nn.MultiheadAttention``) would silently
get the backprop gradient: the rules raise an error naming the module unless ``allow_bp_fallback=True``, in
which case every report carries ``bp_fallback_modules``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_choice
from .base import LearningRule, StepReport, UnsupportedModelError, init_like, plastic_layers, unsupported_weights


class _FeedbackLinear(torch.autograd.Function):
    """Identity on the already-computed output ``y``; backward uses ``feedback`` in place of W."""

    @staticmethod
    def forward(ctx: Any, y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None, feedback: Callable[[], torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.feedback = feedback
        ctx.has_bias = bias is not None
        return y.view_as(y)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        gx = gw = gb = None
        if ctx.needs_input_grad[1]:
            gx = g @ ctx.feedback()
        if ctx.needs_input_grad[2]:
            gw = g.reshape(-1, g.shape[-1]).t() @ x.reshape(-1, x.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[3]:
            gb = g.reshape(-1, g.shape[-1]).sum(0)
        return None, gx, gw, gb, None


_CONV_GRADS = {1: (torch.nn.grad.conv1d_input, torch.nn.grad.conv1d_weight, (0, 2)),
               2: (torch.nn.grad.conv2d_input, torch.nn.grad.conv2d_weight, (0, 2, 3))}


class _FeedbackConv(torch.autograd.Function):
    """Conv1d/Conv2d counterpart of ``_FeedbackLinear``."""

    @staticmethod
    def forward(ctx: Any, y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None, feedback: Callable[[], torch.Tensor], conv: tuple) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.feedback = feedback
        ctx.has_bias = bias is not None
        ctx.conv = conv
        ctx.wshape = weight.shape
        return y.view_as(y)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv
        grad_input, grad_weight, dims = _CONV_GRADS[len(ctx.wshape) - 2]
        gx = gw = gb = None
        if ctx.needs_input_grad[1]:
            gx = grad_input(x.shape, ctx.feedback(), g, stride, padding, dilation, groups)
        if ctx.needs_input_grad[2]:
            gw = grad_weight(x, ctx.wshape, g, stride, padding, dilation, groups)
        if ctx.has_bias and ctx.needs_input_grad[3]:
            gb = g.sum(dims)
        return None, gx, gw, gb, None, None


def apply_feedback(module: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   fb: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Re-route the backward pass of ``module`` (Linear, Conv1d or Conv2d) through the feedback tensor ``fb()``.

    ``fb`` is called lazily in backward, only when the layer's input needs a gradient (not for the first layer).
    """
    if isinstance(module, nn.Linear):
        return _FeedbackLinear.apply(y.detach(), x, module.weight, module.bias, fb)
    if isinstance(module.padding, str):
        raise ConfigError("feedback rules need numeric convolution padding, not padding='same'/'valid'")
    conv = (module.stride, module.padding, module.dilation, module.groups)
    return _FeedbackConv.apply(y.detach(), x, module.weight, module.bias, fb, conv)


def check_reachable(rule_name: str, model: nn.Module, allow_bp_fallback: bool) -> list[str]:
    """Modules a layer-hook rule cannot act on: an error naming them, or (allowed) the list for the report."""
    bad = unsupported_weights(model)
    if bad and not allow_bp_fallback:
        raise UnsupportedModelError(
            f"rule {rule_name!r} cannot act on {', '.join(bad)}: its weights are used functionally and would get "
            "plain backprop gradients; use Linear/Conv1d/Conv2d layers or pass allow_bp_fallback=True")
    return bad


def angle_and_ratio(w: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Angle in degrees between flattened W and B, and ‖B‖/‖W‖ (BioTorch's ``compute_matrix_angle`` measure)."""
    w, b = w.detach().flatten().double(), b.detach().flatten().double().to(w.device)
    nw, nb = w.norm(), b.norm()
    cos = (w @ b / (nw * nb)).clamp(-1, 1) if nw > 0 and nb > 0 else torch.zeros((), dtype=w.dtype)
    return float(torch.rad2deg(torch.arccos(cos))), float(nb / nw) if nw > 0 else float("inf")


class _FeedbackRule(LearningRule):
    """Shared machinery: a forward hook per plastic layer swaps W for ``self.feedback(...)`` in backward."""

    def __init__(self, loss: str = "auto", seed: int = 0, allow_bp_fallback: bool = False,
                 diagnostics: bool = False) -> None:
        super().__init__(loss=loss, seed=seed)
        self.allow_bp_fallback = bool(allow_bp_fallback)
        self.diagnostics = bool(diagnostics)
        self._fallback: list[str] = []
        self._layers: list[tuple[str, nn.Module]] = []

    def _prepare(self, model: nn.Module) -> None:
        self._fallback = check_reachable(self.name, model, self.allow_bp_fallback)
        self._layers = plastic_layers(model)
        for name, module in self._layers:
            if isinstance(module, nn.Conv1d | nn.Conv2d) and module.padding_mode != "zeros":
                raise UnsupportedModelError(f"layer {name!r}: feedback rules support padding_mode='zeros' only")
            self._init_feedback(name, module)
            self.add_hook(module.register_forward_hook(self._make_hook(name)))

    def _init_feedback(self, name: str, module: nn.Module) -> None:
        """Create per-layer state (FA: the random B)."""

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        raise NotImplementedError

    def _make_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
            if not self.active or not torch.is_grad_enabled():
                return None
            return apply_feedback(module, inputs[0], output, lambda: self.feedback(name, module).detach())
        return hook

    def step_metrics(self, model: nn.Module) -> dict[str, float]:
        out: dict[str, float] = {}
        if self._fallback:
            out["bp_fallback_modules"] = float(len(self._fallback))
        if self.diagnostics:
            out.update(self.feedback_diagnostics(model))
        return out

    def feedback_diagnostics(self, model: nn.Module) -> dict[str, float]:
        """Per layer (except the first, whose feedback is never used): ``angle.<layer>`` between W and B in
        degrees and ``norm_ratio.<layer>`` = ‖B‖/‖W‖."""
        self._ensure_prepared(model)
        out: dict[str, float] = {}
        for name, m in self._layers[1:]:
            angle, ratio = angle_and_ratio(m.weight, self.feedback(name, m))
            out[f"angle.{name}"], out[f"norm_ratio.{name}"] = angle, ratio
        return out


class FeedbackAlignment(_FeedbackRule):
    """Fixed random feedback B per layer (Lillicrap et al. 2016, Nat. Commun.).

    ``scale``: 'match' draws B uniform with the std of W at ``prepare``; 'kaiming' uses W's fan-in.
    """

    name = "fa"

    def __init__(self, loss: str = "auto", seed: int = 0, scale: str = "match", allow_bp_fallback: bool = False,
                 diagnostics: bool = False) -> None:
        super().__init__(loss=loss, seed=seed, allow_bp_fallback=allow_bp_fallback, diagnostics=diagnostics)
        self.scale = check_choice("scale", scale, ("match", "kaiming"))

    def _init_feedback(self, name: str, module: nn.Module) -> None:
        key = f"B.{name}"
        if key not in self.buffers or self.buffers[key].shape != module.weight.shape:
            layer_seed = self.seed * 1000003 + len([k for k in self.buffers if k.startswith("B.")])
            self.register_buffer(key, init_like(module.weight, layer_seed, self.scale))

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        return self.buffers[f"B.{name}"]

    def set_feedback(self, name: str, value: torch.Tensor) -> None:
        """Replace layer ``name``'s feedback (shape of its weight), e.g. B = W to recover backprop."""
        key = f"B.{name}"
        if key not in self.buffers:
            raise ConfigError(f"unknown layer {name!r}; prepared layers: {[k[2:] for k in self.buffers]}")
        if value.shape != self.buffers[key].shape:
            raise ConfigError(f"feedback for {name!r} must have shape {tuple(self.buffers[key].shape)}")
        self.buffers[key] = value.detach().clone().to(self.buffers[key])


class SignSymmetry(_FeedbackRule):
    """Feedback ``sign(W)`` (Liao, Leibo & Poggio 2016), times mean|W| per layer unless ``scale=None``."""

    name = "sign"

    def __init__(self, loss: str = "auto", seed: int = 0, scale: str | None = "mean_abs",
                 allow_bp_fallback: bool = False, diagnostics: bool = False) -> None:
        super().__init__(loss=loss, seed=seed, allow_bp_fallback=allow_bp_fallback, diagnostics=diagnostics)
        if scale not in ("mean_abs", None):
            raise ConfigError(f"unknown scale {scale!r}; allowed: 'mean_abs', None")
        self.scale = scale

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        w = module.weight.detach()
        if self.scale is None:
            return torch.sign(w)
        return torch.sign(w).mul_(w.abs().mean())      # mean|W| * sign(W); faster than vector_norm + copysign


def xavier_bound(shape: torch.Size) -> float:
    """Glorot-uniform bound sqrt(6 / (fan_in + fan_out)) for a Linear/Conv weight of ``shape``."""
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return math.sqrt(6.0 / (shape[1] * receptive + shape[0] * receptive))


def _magnitude(shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """|M| with M Glorot-uniform (BioTorch's draw), on CPU in float32."""
    return torch.rand(shape, generator=gen).mul_(xavier_bound(shape))


class FixedRandomSignFeedback(_FeedbackRule):
    """frSF (Liao et al. 2016): ``B = |M| ∘ sign(W)`` with M Glorot-uniform, drawn once per layer and fixed.

    Differs from BioTorch's ``frsf`` layer, which multiplies its stored M by sign(W) in place at every forward
    (so B's sign alternates with each call) and omits the absolute value; we follow the paper's definition.
    """

    name = "frsf"

    def __init__(self, loss: str = "auto", seed: int = 0, allow_bp_fallback: bool = False,
                 diagnostics: bool = False) -> None:
        super().__init__(loss=loss, seed=seed, allow_bp_fallback=allow_bp_fallback, diagnostics=diagnostics)

    def _init_feedback(self, name: str, module: nn.Module) -> None:
        key = f"M.{name}"
        if key not in self.buffers or self.buffers[key].shape != module.weight.shape:
            index = len([k for k in self.buffers if k.startswith("M.")])
            gen = torch.Generator().manual_seed(self.seed * 1000003 + index)
            self.register_buffer(key, _magnitude(module.weight.shape, gen))

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        return self.buffers[f"M.{name}"] * torch.sign(module.weight.detach())


class BatchwiseRandomSignFeedback(_FeedbackRule):
    """brSF (Liao et al. 2016): ``B = |M_t| ∘ sign(W)`` with a fresh Glorot-uniform M_t every batch (every step).

    M_t is drawn for every plastic layer in order at the start of the step from the rule's generator (saved with
    the rule). BioTorch's ``brsf`` layer omits the absolute value, so its B is not sign-concordant; we follow the paper.
    """

    name = "brsf"

    def __init__(self, loss: str = "auto", seed: int = 0, allow_bp_fallback: bool = False,
                 diagnostics: bool = False) -> None:
        super().__init__(loss=loss, seed=seed, allow_bp_fallback=allow_bp_fallback, diagnostics=diagnostics)
        self._m: dict[str, torch.Tensor] = {}

    def draw(self, model: nn.Module) -> None:
        """Draw this batch's magnitudes M_t (one per plastic layer, in order)."""
        gen = self.register_generator("magnitude", self.seed)
        self._m = {name: _magnitude(m.weight.shape, gen).to(m.weight) for name, m in plastic_layers(model)}

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        self.draw(model)
        return super().compute_gradients(model, x, y)

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        if name not in self._m:
            raise ConfigError("brSF feedback is drawn per step; call step() (or draw(model)) first")
        return self._m[name] * torch.sign(module.weight.detach())


def fa_weight_angles(rule: _FeedbackRule, model: nn.Module) -> dict[str, float]:
    """Angle in degrees between each layer's W and its feedback B (W vs Bᵀ in column notation)."""
    out = {}
    for name, module in plastic_layers(model):
        b = rule.buffers.get(f"B.{name}")
        if b is None:
            continue
        w = module.weight.detach().flatten().float()
        cos = F.cosine_similarity(w, b.flatten().float().to(w.device), dim=0).clamp(-1, 1)
        out[name] = float(torch.rad2deg(torch.arccos(cos)))
    return out
