"""Alignment of a rule's update with backprop's gradient (Lillicrap et al. 2016; Nøkland 2016)."""

from __future__ import annotations

import torch
from torch import nn

from ..rules.backprop import Backprop
from ..rules.base import LearningRule, plastic_layers


def angle_between(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle in degrees between two tensors seen as flat vectors (90 if either is zero)."""
    a, b = a.detach().flatten().double(), b.detach().flatten().double()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return 90.0
    cos = (a @ b / (na * nb)).clamp(-1.0, 1.0)
    return float(torch.rad2deg(torch.arccos(cos)))


def grads_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copy of every plastic layer's weight ``.grad`` (zeros where None), keyed by layer name."""
    return {
        name: (m.weight.grad.detach().clone() if m.weight.grad is not None else torch.zeros_like(m.weight))
        for name, m in plastic_layers(model)
    }


def update_alignment(model: nn.Module, rule: LearningRule, x: torch.Tensor, y: torch.Tensor,
                     reference: LearningRule | None = None) -> dict[str, float]:
    """Per-layer angle (degrees) between ``rule``'s weight update and ``reference``'s (backprop) on one batch.

    The model's parameters are untouched; its ``.grad`` fields are restored afterwards.
    """
    saved = {n: (p.grad.clone() if p.grad is not None else None) for n, p in model.named_parameters()}
    reference = reference or Backprop(loss=rule.loss)
    try:
        rule.step(model, x, y)
        mine = grads_of(model)
        reference.step(model, x, y)
        ref = grads_of(model)
    finally:
        for n, p in model.named_parameters():
            p.grad = saved[n]
    return {name: angle_between(mine[name], ref[name]) for name in mine}
