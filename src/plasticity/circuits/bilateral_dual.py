"""The reference's bilateral controllers (Cerenaut/bilateral-motor-control ``models.py``), on our torque arm.

A hemisphere is a stack of dense tanh layers on the controller features. ``DualBilateral`` runs two of them
side by side and sums their last activities through two trainable non-negative scalars (from 0.5, the
reference's ``Wt_Add``) into one shared output layer; with ``callosum``, each layer after the first also
receives the other hemisphere's previous activity max-pooled in pairs and zero-padded at the front (the
reference's corpus callosum). Trained with :func:`~plasticity.circuits.bilateral.train_controller`, each
hemisphere's layers descend its own loss and the shared ones half of each (``ref_shared``), as the reference's
``DistalTeacherDual`` does. ``Unilateral`` is one stack with its own output layer. The output is a torque,
``max_torque * tanh``, where the reference's sigmoid drives muscle excitations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import check_range
from .bilateral import N_FEATURES


class Stack(nn.Module):
    """``layers`` dense tanh layers of ``width`` units on the controller features."""

    def __init__(self, width: int = 5, layers: int = 2) -> None:
        super().__init__()
        check_range("width", width, 1)
        check_range("layers", layers, 1)
        self.layers = nn.ModuleList(nn.Linear(N_FEATURES if k == 0 else width, width) for k in range(layers))


def _callosal(h: torch.Tensor) -> torch.Tensor:
    """The other hemisphere's activity max-pooled in pairs, zero-padded at the front to its width."""
    pooled = F.max_pool1d(h[:, None, :], 2)[:, 0]
    return F.pad(pooled, (h.shape[-1] - pooled.shape[-1], 0))


class Unilateral(nn.Module):
    """One hemisphere alone: a :class:`Stack` and its own output layer (joint torques)."""

    def __init__(self, width: int = 5, layers: int = 2, max_torque: float = 10.0) -> None:
        super().__init__()
        self.stack = Stack(width, layers)
        self.out = nn.Linear(width, 2)
        self.max_torque = max_torque
        self.activity: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h, self.activity = z, []
        for layer in self.stack.layers:
            h = torch.tanh(layer(h))
            self.activity.append(h)
        return self.max_torque * torch.tanh(self.out(h))


class DualBilateral(nn.Module):
    """Left and right stacks, a non-negative weighted sum and a shared output layer; ``callosum`` couples them."""

    def __init__(self, width: int = 5, layers: int = 2, max_torque: float = 10.0, callosum: bool = True) -> None:
        super().__init__()
        self.left, self.right = Stack(width, layers), Stack(width, layers)
        self.mix = nn.Parameter(torch.full((2,), 0.5))
        self.out = nn.Linear(width, 2)
        self.max_torque, self.callosum = max_torque, callosum
        self.activity: list[torch.Tensor] = []

    def shared(self) -> list[nn.Parameter]:
        """The parameters both losses train (half of each): the mixing weights and the output layer."""
        return [self.mix, *self.out.parameters()]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hl, hr, self.activity = z, z, []
        for k, (fl, fr) in enumerate(zip(self.left.layers, self.right.layers, strict=True)):
            if self.callosum and k > 0:
                hl, hr = hl + _callosal(hr), hr + _callosal(hl)
            hl, hr = torch.tanh(fl(hl)), torch.tanh(fr(hr))
            self.activity += [hl, hr]
        return self.max_torque * torch.tanh(self.out(self.mix[0] * hl + self.mix[1] * hr))

    @torch.no_grad()
    def constrain(self) -> None:
        """The reference's ReLU constraint on the mixing weights, applied after every update."""
        self.mix.clamp_(min=0.0)
