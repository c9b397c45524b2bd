"""Substrates: plain ``nn.Module`` networks with no learning logic inside."""

from .activations import ACTIVATIONS, make_activation
from .conv import ConvNet
from .energy import ENERGY_ACTIVATIONS, EnergyConvNet, EnergyMLP, EnergyNet, holo_cost
from .mlp import MLP

__all__ = [
    "ACTIVATIONS",
    "ENERGY_ACTIVATIONS",
    "MLP",
    "ConvNet",
    "EnergyConvNet",
    "EnergyMLP",
    "EnergyNet",
    "holo_cost",
    "make_activation",
]
