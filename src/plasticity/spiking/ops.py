"""Spiking approximations of transformer operators (after BrainTransformers, 2024): matmul, SiLU, softmax.

Values are carried by spike counts over ``T`` time steps. An integrate-and-fire encoder with reset by
subtraction turns x ∈ [−x_max, x_max] into signed spike trains (a positive and a negative channel; with
``burst`` > 1 a neuron may emit up to ``burst`` spikes per step, as in burst coding). Decoding counts gives
x quantised to x_max/(T·burst), so every error below falls as 1/T.

* ``SpikingMatmul``: accumulates ``s_t @ W`` over time — exactly decode(s) @ W, with no multiplication by x.
* ``SpikingSiLU`` / exp in ``SpikingSoftmax``: a bank of threshold neurons reads the integrated membrane
  potential; each fires once its threshold is crossed, weighted by the slope change of a piecewise-linear
  fit of the function on a fixed knot grid, and the summed output is re-encoded as spikes.
* ``SpikingSoftmax``: spiking exp of (x − max) then divisive normalisation of the output rates.
All ops are vectorised over batch, features and time (the time axis is a tensor dimension).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_range


def encode(x: torch.Tensor, T: int, x_max: float, burst: int = 1) -> torch.Tensor:
    """Signed IF encoding: spike counts of shape (T, *x.shape), values in [−burst, burst] per step.

    Constant input x/x_max·burst per step into an IF neuron with threshold 1 and reset by subtraction
    gives cumulative counts floor(t·u) (u = |x|/x_max·burst), so the per-step count is the difference.
    """
    check_range("T", T, 1)
    check_range("x_max", x_max, 0.0, low_inclusive=False)
    check_range("burst", burst, 1)
    u = (x.abs() / x_max).clamp(max=1.0) * burst
    t = torch.arange(T + 1, device=x.device, dtype=x.dtype).view(-1, *([1] * x.dim()))
    cum = torch.floor(t * u + 1e-6)                     # spikes emitted up to step t
    return (cum[1:] - cum[:-1]) * torch.sign(x)


def decode(spikes: torch.Tensor, x_max: float, burst: int = 1) -> torch.Tensor:
    """Rate decoding: total signed count · x_max / (T · burst)."""
    return spikes.sum(0) * (x_max / (spikes.shape[0] * burst))


class SpikingEncoder(nn.Module):
    """Module form of ``encode`` then ``decode`` (the straight quantiser the spiking ops see)."""

    def __init__(self, T: int = 128, x_max: float = 4.0, burst: int = 1) -> None:
        super().__init__()
        self.T, self.x_max, self.burst = int(check_range("T", T, 1)), float(x_max), int(burst)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return decode(encode(x, self.T, self.x_max, self.burst), self.x_max, self.burst)


class SpikingMatmul(nn.Module):
    """``x @ w`` with x delivered as spikes: Σ_t s_t @ w · x_max/(T·burst) (additions of w rows only)."""

    def __init__(self, T: int = 128, x_max: float = 4.0, burst: int = 1) -> None:
        super().__init__()
        self.T, self.x_max, self.burst = int(check_range("T", T, 1)), float(x_max), int(burst)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != w.shape[-2]:
            raise ConfigError(f"matmul shapes {tuple(x.shape)} @ {tuple(w.shape)} do not match")
        s = encode(x, self.T, self.x_max, self.burst)            # (T, ..., k)
        return torch.matmul(s, w).sum(0) * (self.x_max / (self.T * self.burst))


class _ThresholdBank(nn.Module):
    """Piecewise-linear f on ``knots`` realised by threshold neurons reading the integrated input."""

    def __init__(self, fn, lo: float, hi: float, knots: int, T: int, x_max: float, out_max: float,
                 burst: int) -> None:
        super().__init__()
        check_range("knots", knots, 2)
        if hi <= lo:
            raise ConfigError(f"range [{lo}, {hi}] is empty")
        self.T, self.x_max, self.out_max, self.burst = int(check_range("T", T, 1)), float(x_max), float(out_max), int(burst)
        k = torch.linspace(lo, hi, knots, dtype=torch.float64)
        v = fn(k)
        slopes = (v[1:] - v[:-1]) / (k[1:] - k[:-1])
        self.register_buffer("thresholds", k[:-1].float())                       # neuron i fires above knot i
        self.register_buffer("weights", torch.cat([slopes[:1], slopes[1:] - slopes[:-1]]).float())
        self.base = float(v[0])
        self.lo, self.hi = lo, hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = encode(x, self.T, self.x_max, self.burst)
        v = decode(s, self.x_max, self.burst).clamp(self.lo, self.hi)     # integrated membrane potential
        drive = (v.unsqueeze(-1) - self.thresholds).clamp_min(0)           # super-threshold drive per neuron
        y = self.base + drive @ self.weights
        return decode(encode(y, self.T, self.out_max, self.burst), self.out_max, self.burst)


class SpikingSiLU(nn.Module):
    """SiLU x·σ(x) from spikes: threshold-neuron bank on [−x_max, x_max], output re-encoded as spikes."""

    def __init__(self, T: int = 128, x_max: float = 4.0, knots: int = 65, burst: int = 1) -> None:
        super().__init__()
        self.bank = _ThresholdBank(F.silu, -x_max, x_max, knots, T, x_max, out_max=x_max, burst=burst)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bank(x)


class SpikingSoftmax(nn.Module):
    """Softmax from spikes: spiking exp of (x − max x) on [−x_max, 0], then divisive normalisation of rates."""

    def __init__(self, T: int = 128, x_max: float = 8.0, knots: int = 65, dim: int = -1, burst: int = 1) -> None:
        super().__init__()
        self.dim = dim
        self.exp = _ThresholdBank(torch.exp, -x_max, 0.0, knots, T, x_max, out_max=1.0, burst=burst)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.exp(x - x.amax(self.dim, keepdim=True))
        return e / e.sum(self.dim, keepdim=True).clamp_min(1e-12)


class SpikingTransformerBlock(nn.Module):
    """A pre-norm transformer block (single-head attention + SiLU MLP) whose matmuls, softmax and SiLU are
    the spiking ops above when ``spiking=True``; with ``spiking=False`` the same weights run in float."""

    def __init__(self, d_model: int = 32, d_hidden: int = 64, T: int = 128, spiking: bool = True,
                 x_max: float = 4.0, burst: int = 1) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)
        self.fc1 = nn.Linear(d_model, d_hidden, bias=False)
        self.fc2 = nn.Linear(d_hidden, d_model, bias=False)
        self.spiking = spiking
        self.mm = SpikingMatmul(T, x_max, burst)
        self.silu = SpikingSiLU(T, x_max, burst=burst)
        self.softmax = SpikingSoftmax(T, 2 * x_max, burst=burst)

    def _mm(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.mm(x, w) if self.spiking else x @ w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        h = self.norm1(x)
        q, k, v = self._mm(h, self.qkv.weight.t()).split(d, dim=-1)
        scores = self._mm(q, k.transpose(-1, -2)) / d**0.5
        attn = self.softmax(scores) if self.spiking else scores.softmax(-1)
        x = x + self._mm(self._mm(attn, v), self.proj.weight.t())
        h = self._mm(self.norm2(x), self.fc1.weight.t())
        h = self.silu(h) if self.spiking else F.silu(h)
        return x + self._mm(h, self.fc2.weight.t())
