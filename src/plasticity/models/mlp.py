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
    ``dropout=(p_in, p_hidden)`` drops inputs before the first layer and hidden activations after each
    nonlinearity (Nøkland 2016's MLP: 0.1 and 0.5); ``init="zero"`` starts every weight and bias at zero, as
    the DFA reference does for tanh/sigmoid nets (DFA's random feedback breaks the symmetry; BP cannot).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", bias: bool = True,
                 dropout: tuple[float, float] = (0.0, 0.0), init: str = "default") -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ConfigError(f"sizes={sizes!r} is invalid; allowed: at least 2 positive layer widths")
        if len(dropout) != 2 or not all(0.0 <= float(d) < 1.0 for d in dropout):
            raise ConfigError(f"dropout={tuple(dropout)!r} is invalid; allowed: (p_input, p_hidden), each in [0, 1)")
        if init not in ("default", "zero"):
            raise ConfigError(f"init={init!r} is invalid; allowed: default, zero")
        self.sizes = sizes
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in itertools.pairwise(sizes))
        self.act = make_activation(activation)
        self.activation = activation
        self.drop_in = nn.Dropout(float(dropout[0])) if dropout[0] > 0 else nn.Identity()
        self.drop_hidden = nn.Dropout(float(dropout[1])) if dropout[1] > 0 else nn.Identity()
        if init == "zero":
            with torch.no_grad():
                for layer in self.layers:
                    layer.weight.zero_()
                    if layer.bias is not None:
                        layer.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.sizes[0]:
            raise ConfigError(
                f"input has {x.shape[1]} features but the MLP expects sizes[0]={self.sizes[0]}; "
                f"set the first size to {x.shape[1]}"
            )
        x = self.drop_in(x)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.drop_hidden(self.act(x))
        return x
