"""Surrogate-gradient backpropagation through time (Neftci, Mostafa & Zenke 2019): the spiking baseline.

The network's forward pass is already a differentiable unrolled simulation; the rule differentiates the
loss through it, with the spike nonlinearity's derivative replaced by the chosen surrogate."""

from __future__ import annotations

from torch import nn

from ..errors import check_choice, check_range
from ..rules.base import LearningRule
from .surrogate import SURROGATES


class SurrogateBPTT(LearningRule):
    """BPTT with a surrogate spike derivative; ``surrogate``/``alpha`` (if given) override every LIF module's."""

    name = "surrogate-bptt"
    substrate = "spiking"

    def __init__(self, surrogate: str | None = None, alpha: float | None = None, loss: str = "auto",
                 seed: int = 0) -> None:
        super().__init__(loss=loss, seed=seed)
        self.surrogate = None if surrogate is None else check_choice("surrogate", surrogate, SURROGATES)
        self.alpha = None if alpha is None else check_range("alpha", alpha, 0.0, low_inclusive=False)

    def _prepare(self, model: nn.Module) -> None:
        changes = {}
        if self.surrogate is not None:
            changes["surrogate"] = self.surrogate
        if self.alpha is not None:
            changes["alpha"] = float(self.alpha)
        if not changes:
            return
        for m in model.modules():
            p = getattr(m, "p", None)
            if p is not None and hasattr(p, "_replace") and hasattr(p, "surrogate"):
                m.p = p._replace(**changes)
