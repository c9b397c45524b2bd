"""Substrates: plain ``nn.Module`` networks with no learning logic inside."""

from .activations import ACTIVATIONS, make_activation
from .conv import ConvNet
from .energy import ENERGY_ACTIVATIONS, EnergyConvNet, EnergyMLP, EnergyNet, holo_cost
from .mlp import MLP
from .quasimetric import PQE, MLPDistance, QuasimetricNet

__all__ = [
    "ACTIVATIONS",
    "ENERGY_ACTIVATIONS",
    "MLP",
    "PQE",
    "ConvNet",
    "EnergyConvNet",
    "EnergyMLP",
    "EnergyNet",
    "MLPDistance",
    "QuasimetricNet",
    "holo_cost",
    "make_activation",
]
