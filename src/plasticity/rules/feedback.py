"""Feedback alignment (Lillicrap et al. 2016) and sign symmetry (Liao et al. 2016).

Both replace the transpose of W in the backward pass of every Linear/Conv2d layer by a
feedback tensor B of W's shape: ``dL/dx = B^T δ`` instead of ``W^T δ``; ``dL/dW = δ x^T`` is
unchanged. FA draws B once at random (fixed, seeded, saved with the rule); sign symmetry uses
``sign(W) * mean|W|`` (the magnitude factor makes it exact when |W| is constant; ``scale=None`` drops it).
B = W recovers backprop exactly (the paper's B = Wᵀ in column-vector notation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_choice
from .base import LearningRule, init_like, plastic_layers


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


class _FeedbackConv2d(torch.autograd.Function):
    """Conv2d counterpart of ``_FeedbackLinear``."""

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
        gx = gw = gb = None
        if ctx.needs_input_grad[1]:
            gx = torch.nn.grad.conv2d_input(x.shape, ctx.feedback(), g, stride, padding, dilation, groups)
        if ctx.needs_input_grad[2]:
            gw = torch.nn.grad.conv2d_weight(x, ctx.wshape, g, stride, padding, dilation, groups)
        if ctx.has_bias and ctx.needs_input_grad[3]:
            gb = g.sum((0, 2, 3))
        return None, gx, gw, gb, None, None


def apply_feedback(module: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   fb: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Re-route the backward pass of ``module`` (Linear or Conv2d) through the feedback tensor ``fb()``.

    ``fb`` is called lazily in backward, only when the layer's input needs a gradient (not for the first layer).
    """
    if isinstance(module, nn.Linear):
        return _FeedbackLinear.apply(y.detach(), x, module.weight, module.bias, fb)
    if isinstance(module.padding, str):
        raise ConfigError("feedback rules need numeric Conv2d padding, not padding='same'/'valid'")
    conv = (module.stride, module.padding, module.dilation, module.groups)
    return _FeedbackConv2d.apply(y.detach(), x, module.weight, module.bias, fb, conv)


class _FeedbackRule(LearningRule):
    """Shared machinery: a forward hook per plastic layer swaps W for ``self.feedback(...)`` in backward."""

    def _prepare(self, model: nn.Module) -> None:
        for name, module in plastic_layers(model):
            self._init_feedback(name, module)
            self._handles.append(module.register_forward_hook(self._make_hook(name)))

    def _init_feedback(self, name: str, module: nn.Module) -> None:
        """Create per-layer state (FA: the random B)."""

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        raise NotImplementedError

    def _make_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
            if not self._active or not torch.is_grad_enabled():
                return None
            x = inputs[0]
            if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
                raise ConfigError(f"layer {name!r}: feedback rules support padding_mode='zeros' only")
            return apply_feedback(module, x, output, lambda: self.feedback(name, module).detach())
        return hook


class FeedbackAlignment(_FeedbackRule):
    """Fixed random feedback B per layer (Lillicrap et al. 2016, Nat. Commun.).

    ``scale``: 'match' draws B uniform with the std of W at ``prepare``; 'kaiming' uses W's fan-in.
    """

    name = "fa"

    def __init__(self, loss: str = "auto", seed: int = 0, scale: str = "match") -> None:
        super().__init__(loss=loss, seed=seed)
        self.scale = check_choice("scale", scale, ("match", "kaiming"))

    def _init_feedback(self, name: str, module: nn.Module) -> None:
        key = f"B.{name}"
        if key not in self.buffers or self.buffers[key].shape != module.weight.shape:
            layer_seed = self.seed * 1000003 + len([k for k in self.buffers if k.startswith("B.")])
            self.buffers[key] = init_like(module.weight, layer_seed, self.scale)

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        b = self.buffers[f"B.{name}"]
        if b.device != module.weight.device or b.dtype != module.weight.dtype:
            b = self.buffers[f"B.{name}"] = b.to(module.weight)
        return b

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

    def __init__(self, loss: str = "auto", seed: int = 0, scale: str | None = "mean_abs") -> None:
        super().__init__(loss=loss, seed=seed)
        if scale not in ("mean_abs", None):
            raise ConfigError(f"unknown scale {scale!r}; allowed: 'mean_abs', None")
        self.scale = scale

    def feedback(self, name: str, module: nn.Module) -> torch.Tensor:
        w = module.weight.detach()
        if self.scale is None:
            return torch.sign(w)
        return torch.sign(w).mul_(w.abs().mean())      # mean|W| * sign(W); faster than vector_norm + copysign


def fa_weight_angles(rule: FeedbackAlignment, model: nn.Module) -> dict[str, float]:
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
