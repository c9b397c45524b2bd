"""Multi-layer perceptron substrate."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .activations import make_activation


class MLP(nn.Module):
    """Fully connected net ``sizes[0] -> ... -> sizes[-1]``; flattens its input, no output nonlinearity.

    Layers are ``self.layers`` (``nn.Linear``), applied in order with ``activation`` between them.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", bias: bool = True) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ConfigError(f"sizes={sizes!r} is invalid; allowed: at least 2 positive layer widths")
        self.sizes = sizes
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in itertools.pairwise(sizes))
        self.act = make_activation(activation)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.sizes[0]:
            raise ConfigError(
                f"input has {x.shape[1]} features but the MLP expects sizes[0]={self.sizes[0]}; "
                f"set the first size to {x.shape[1]}"
            )
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x
