"""Heaviside spike with a surrogate derivative (Neftci, Mostafa & Zenke 2019): exact spikes forward,
a smooth pseudo-derivative backward so BPTT can pass through the threshold."""

from __future__ import annotations

import math

import torch

from ..errors import check_choice

SURROGATES = ("fast_sigmoid", "sigmoid", "triangle", "arctan")


def surrogate_grad(x: torch.Tensor, shape: str, alpha: float) -> torch.Tensor:
    """d spike / d x of the named surrogate at ``x = v - threshold`` (each peaks at x = 0)."""
    if shape == "fast_sigmoid":  # SuperSpike (Zenke & Ganguli 2018): 1 / (1 + alpha |x|)^2
        return 1.0 / (1.0 + alpha * x.abs()) ** 2
    if shape == "sigmoid":
        s = torch.sigmoid(alpha * x)
        return alpha * s * (1 - s)
    if shape == "triangle":  # piecewise linear (Esser et al. 2016)
        return torch.clamp(1.0 - alpha * x.abs(), min=0.0) * alpha
    if shape == "arctan":  # Fang et al. 2021
        return (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2)
    raise ValueError(f"unknown surrogate {shape!r}")


def surrogate_grad_(x: torch.Tensor, shape: str, alpha: float) -> torch.Tensor:
    """In-place ``surrogate_grad``: overwrites ``x`` with the derivative (no temporaries; the fused kernel's backward)."""
    if shape == "fast_sigmoid":
        return x.abs_().mul_(alpha).add_(1.0).pow_(-2)
    if shape == "sigmoid":
        return x.mul_(alpha).sigmoid_().addcmul_(x, x, value=-1.0).mul_(alpha)
    if shape == "triangle":
        return x.abs_().mul_(-alpha).add_(1.0).clamp_(min=0.0).mul_(alpha)
    if shape == "arctan":
        return x.mul_(math.pi / 2 * alpha).pow_(2).add_(1.0).reciprocal_().mul_(alpha / 2)
    raise ValueError(f"unknown surrogate {shape!r}")


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, shape: str, alpha: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.shape, ctx.alpha = shape, alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * surrogate_grad(x, ctx.shape, ctx.alpha), None, None


def spike_fn(x: torch.Tensor, shape: str = "fast_sigmoid", alpha: float = 10.0) -> torch.Tensor:
    """``(x >= 0)`` as a float tensor; backward uses the surrogate ``shape`` with sharpness ``alpha``."""
    check_choice("surrogate", shape, SURROGATES)
    if not x.requires_grad:
        return (x >= 0).to(x.dtype)
    return _SpikeFn.apply(x, shape, float(alpha))
