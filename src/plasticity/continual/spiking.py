"""The spiking MLP of HLOP's permuted-MNIST experiments (Xiao et al., ICLR 2024; HLOP-SNN
``models/spiking_mlp_hlop_bptt.py``): the image is a constant input current for ``n_steps`` steps, two
hidden layers of LIF neurons with soft (subtract) reset, and a bias-free linear readout averaged over time.
Pixels are standardised with MNIST's mean and std, as the reference's data loader does.

The reference neuron is SpikingJelly's multi-step LIF with tau = 2 and ``decay_input=False``:
v <- v (1 - 1/tau) + x, spike when v >= 1, v <- v - 1 after a spike. Our LIF integrates
v <- a v + (1 - a) x with a = exp(-dt / tau_mem); tau_mem = dt / ln 2 gives a = 0.5 = 1 - 1/tau and the
input is doubled (``gain = 1 / (1 - a)``), so the dynamics are the reference's step for step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError, check_range
from ..spiking.layers import LIFLayer, run_lif
from ..spiking.neurons import LIFParameters


def reference_lif(surrogate: str = "sigmoid", alpha: float = 4.0) -> LIFParameters:
    """LIF constants equal to the reference's SpikingJelly node (tau 2, no input decay, subtract reset,
    sigmoid surrogate with alpha 4, reset detached from the graph)."""
    return LIFParameters(dt=1.0, tau_mem=1.0 / math.log(2.0), tau_syn=0.0, v_th=1.0, v_reset=0.0, reset="subtract",
                         surrogate=surrogate, alpha=alpha, detach_reset=True)


class SpikingHLOPMLP(nn.Module):
    """``sizes = [n_in, h1, ..., n_out]``: constant-current input for ``n_steps`` steps, LIF hidden layers
    (``LIFLayer``, bias-free) and a bias-free linear readout whose outputs are averaged over the steps.

    Every weight is an ``nn.Linear`` whose input rows are [T, B, n] activity, so the continual-learning
    projections (``HLOP``, ``OnlineHLOP``, ``SVDProjection``) protect all layers, readout included.
    """

    def __init__(self, sizes: Sequence[int], n_steps: int = 6, p: LIFParameters | None = None,
                 input_mean: float = 0.1307, input_std: float = 0.3081, init_gain: float = 1.0) -> None:
        super().__init__()
        if len(sizes) < 3:
            raise ConfigError(f"sizes needs at least [n_in, hidden, n_out]; got {list(sizes)}")
        self.sizes = [int(check_range("sizes", s, 1)) for s in sizes]
        self.n_steps = int(check_range("n_steps", n_steps, 1))
        self.p = p or reference_lif()
        self.input_mean = float(input_mean)
        self.input_std = float(check_range("input_std", input_std, 0.0, low_inclusive=False))
        self.gain = 1.0 / (1.0 - math.exp(-self.p.dt / self.p.tau_mem))
        self.layers = nn.ModuleList(LIFLayer(a, b, self.p) for a, b in zip(self.sizes[:-2], self.sizes[1:-1],
                                                                           strict=True))
        self.readout = nn.Linear(self.sizes[-2], self.sizes[-1], bias=False)
        check_range("init_gain", init_gain, 0.0, low_inclusive=False)
        with torch.no_grad():   # the reference's nn.Linear init, rescaled by the input gain of our LIF form
            for layer in self.layers:       # (init_gain > 1 keeps narrow layers from starting silent)
                layer.fc.weight.mul_(self.gain * init_gain)

    def _spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        s = ((x.flatten(1) - self.input_mean) / self.input_std).unsqueeze(0).expand(self.n_steps, -1, -1)
        out = []
        for layer in self.layers:
            # run_lif without the in-place buffer reuse: FA / sign-symmetry layers return views of their input
            s = run_lif(layer.fc(s), layer.p, k=layer.coefficients())[0]
            out.append(s)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self._spikes(x)[-1]).mean(0)

    def hidden_spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Spikes of every hidden layer ``[T, B, n]`` (diagnostics: firing rates)."""
        with torch.no_grad():
            return self._spikes(x)
