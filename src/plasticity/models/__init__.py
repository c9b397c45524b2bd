"""Substrates: plain ``nn.Module`` networks with no learning logic inside."""

from .activations import ACTIVATIONS, make_activation
from .conv import ConvNet
from .mlp import MLP

__all__ = ["ACTIVATIONS", "MLP", "ConvNet", "make_activation"]
