"""Small convolutional substrate: [conv -> act -> maxpool] x k -> linear -> act -> linear."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .activations import make_activation


class ConvNet(nn.Module):
    """Conv blocks (3x3, same padding, 2x2 max-pool) then a hidden linear layer and the readout.

    ``input_shape`` is (channels, height, width); ``channels`` the conv widths; ``hidden`` the
    width of the dense layer (0 to go straight to the readout).
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (16, 32),
        hidden: int = 128,
        n_classes: int = 10,
        activation: str = "relu",
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        c, h, w = (int(v) for v in input_shape)
        self.input_shape = (c, h, w)
        convs = []
        for out_c in channels:
            if h < 2 or w < 2:
                raise ConfigError(
                    f"channels={list(channels)!r}: too many pooling stages for input {tuple(input_shape)}"
                )
            convs.append(nn.Conv2d(c, int(out_c), kernel_size, padding=kernel_size // 2))
            c, h, w = int(out_c), h // 2, w // 2
        self.convs = nn.ModuleList(convs)
        self.pool = nn.MaxPool2d(2)
        self.act = make_activation(activation)
        flat = c * h * w
        self.fc = nn.Linear(flat, hidden) if hidden else None
        self.readout = nn.Linear(hidden or flat, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.view(x.shape[0], *self.input_shape)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ConfigError(f"input shape {tuple(x.shape[1:])} does not match input_shape={self.input_shape}")
        for conv in self.convs:
            x = self.pool(self.act(conv(x)))
        x = x.flatten(1)
        if self.fc is not None:
            x = self.act(self.fc(x))
        return self.readout(x)
