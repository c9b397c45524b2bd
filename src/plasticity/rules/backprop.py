"""Backpropagation: the reference rule, ``.grad`` = dL/dW by autograd."""

from __future__ import annotations

from .base import LearningRule


class Backprop(LearningRule):
    """Plain reverse-mode gradient of the loss (the rule every other rule is compared with)."""

    name = "bp"
