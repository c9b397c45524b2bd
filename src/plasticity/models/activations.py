"""Named activation functions shared by the substrates."""

from __future__ import annotations

from torch import nn

from ..errors import check_choice

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Instantiate the activation called ``name`` (see ``ACTIVATIONS``)."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]()
