"""Rule-flipped neurons: a wrapper that flips the sign of plasticity for a fraction of hidden neurons.

Curl descent (Ninou, Kadmon & Cayco-Gajic, NeurIPS 2025): when some neurons use the opposite
(anti-Hebbian) sign of a rule, the learning flow ``Ẇ = −D ∇L`` is no longer a gradient — it gains curl
terms. Below a critical fraction of flipped neurons the solutions stay stable; beyond it learning is
destabilised. The wrapper multiplies the update of the synapses of each chosen hidden neuron (its
outgoing, incoming or both) by −1 after any base rule has filled ``.grad``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, check_choice, check_range
from .base import LearningRule, StepReport, UnsupportedModelError, plastic_layers
from .registry import make_rule

SIDES = ("outgoing", "incoming", "both")
NEURONS = ("hidden", "input", "all")


class Curl(LearningRule):
    """Wrap ``base`` so a seeded ``fraction`` of every hidden layer's neurons flip their plasticity sign.

    ``side='outgoing'`` flips the column of the next layer's weight (the neuron's output synapses),
    ``'incoming'`` the row (and bias) of its own layer, ``'both'`` both. The ±1 masks are rule state.
    ``neurons='input'`` flips input units instead (their outgoing synapses: columns of the first layer, the
    paper's flips in the hidden-layer weights W1), ``'all'`` both populations (input units always flip their
    outgoing synapses, the only plastic ones they have).
    A base given by name is built with ``seed`` (unless ``base_kwargs`` sets its own) and ``base_kwargs``.
    ``renormalize=True`` rescales every plastic layer's weight to its Frobenius norm at ``prepare`` before each
    step (the reference's phase-diagram protocol, caycogajiclab/Curl_Descent); call :meth:`renormalize_` after
    the last step to apply it once more.
    """

    name = "curl"

    def __init__(self, base: LearningRule | str = "bp", fraction: float = 0.0, side: str = "outgoing",
                 seed: int = 0, neurons: str = "hidden", renormalize: bool = False, **base_kwargs: Any) -> None:
        if isinstance(base, str):
            base = make_rule(base, **{"seed": seed, **base_kwargs})
        elif base_kwargs:
            raise ConfigError("base_kwargs are only allowed when base is given by name")
        super().__init__(loss=base.loss, seed=seed)
        self.base = base
        self.fraction = check_range("fraction", float(fraction), 0.0, 1.0)
        self.side = check_choice("side", side, SIDES)
        self.neurons = check_choice("neurons", neurons, NEURONS)
        if not isinstance(renormalize, bool):
            raise ConfigError(f"renormalize={renormalize!r} is invalid; allowed: true or false")
        self.renormalize = renormalize
        if self.neurons == "input" and self.side == "incoming":
            raise ConfigError("input units have no plastic incoming synapses; use side='outgoing' with neurons='input'")
        self._layers: list[tuple[str, nn.Module]] = []

    def _prepare(self, model: nn.Module) -> None:
        self.base.prepare(model)
        self._layers = plastic_layers(model)
        if len(self._layers) < 2:
            raise UnsupportedModelError("the curl rule needs a model with at least one hidden layer (two plastic layers)")
        if self.renormalize:
            for name, m in self._layers:
                if f"norm.{name}" not in self.buffers:
                    self.register_buffer(f"norm.{name}", m.weight.detach().norm().reshape(1).clone())
        if self.neurons != "hidden":
            n_in = self._layers[0][1].weight.shape[1]
            if "flip.input" not in self.buffers or self.buffers["flip.input"].shape != (n_in,):
                self.register_buffer("flip.input", self._mask(n_in, 999_983))
        if self.neurons == "input":
            return
        for i, (name, m) in enumerate(self._layers[:-1]):
            n = m.weight.shape[0]
            nxt = self._layers[i + 1][1].weight
            if self.side != "incoming" and nxt.shape[1] != n:
                raise ConfigError(f"layer {name!r} has {n} neurons but the next layer takes {nxt.shape[1]} inputs; "
                                  "use side='incoming'")
            key = f"flip.{name}"
            if key not in self.buffers or self.buffers[key].shape != (n,):
                self.register_buffer(key, self._mask(n, i))

    def _mask(self, n: int, salt: int) -> torch.Tensor:
        """±1 vector with round(fraction * n) seeded entries at −1."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + salt)
        sign = torch.ones(n)
        sign[torch.randperm(n, generator=g)[:round(self.fraction * n)]] = -1.0
        return sign

    def remove(self) -> None:
        self.base.remove()
        super().remove()

    def flipped(self, name: str) -> torch.Tensor:
        """Boolean mask of the rule-flipped neurons of hidden layer ``name`` (``'input'``: the input units)."""
        return self.buffers[f"flip.{name}"] < 0

    def renormalize_(self, model: nn.Module) -> None:
        """Rescale every plastic layer's weight to its recorded initial Frobenius norm (no-op unless renormalize)."""
        self._ensure_prepared(model)
        if not self.renormalize:
            return
        with torch.no_grad():
            for name, m in self._layers:
                target = self.buffers[f"norm.{name}"].to(m.weight)
                m.weight.mul_(target / m.weight.norm().clamp_min(torch.finfo(m.weight.dtype).tiny))

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        """Rescale to the initial norms (``renormalize``), run the base rule, then flip the sign of the flipped
        units' synaptic updates in ``.grad``."""
        self.renormalize_(model)
        report = self.base.step(model, x, y)
        with torch.no_grad():
            if self.neurons != "hidden":                      # input units: their outgoing synapses, whatever side
                w = self._layers[0][1].weight
                if w.grad is not None:
                    w.grad.mul_(self.buffers["flip.input"].view(1, -1, *([1] * (w.dim() - 2))))
            for i, (name, m) in enumerate(self._layers[:-1] if self.neurons != "input" else []):
                s = self.buffers[f"flip.{name}"]
                if self.side in ("incoming", "both"):
                    if m.weight.grad is not None:
                        m.weight.grad.mul_(s.view(-1, *([1] * (m.weight.dim() - 1))))
                    if getattr(m, "bias", None) is not None and m.bias.grad is not None:
                        m.bias.grad.mul_(s)
                if self.side in ("outgoing", "both"):
                    w = self._layers[i + 1][1].weight
                    if w.grad is not None:
                        w.grad.mul_(s.view(1, -1, *([1] * (w.dim() - 2))))
        return report

