"""Spike-train metrics as pure functions of binary spike tensors with time first (``[T]`` or ``[T, N]``):
van Rossum and Victor-Purpura distances, Kistler's coincidence factor, rates, ISIs and CV, avalanches."""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError, check_range


def check_spikes(name: str, s: torch.Tensor, ndim: tuple[int, ...] = (1, 2)) -> torch.Tensor:
    """``s`` must be a 0/1 tensor with ``ndim`` in ``ndim`` (time first)."""
    if not isinstance(s, torch.Tensor) or s.dim() not in ndim:
        shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
        raise ConfigError(f"{name} must be a spike tensor with {' or '.join(map(str, ndim))} dims "
                          f"(time first); got {shape}")
    if s.numel() and not bool(((s == 0) | (s == 1)).all()):
        raise ConfigError(f"{name} must hold only 0/1 spikes")
    return s


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    check_spikes("a", a)
    check_spikes("b", b)
    if a.shape != b.shape:
        raise ConfigError(f"spike tensors differ in shape: a {tuple(a.shape)} vs b {tuple(b.shape)}")
    return a.float(), b.float()


def exp_filter(s: torch.Tensor, tau: float, dt: float = 1.0) -> torch.Tensor:
    """Causal exponential filter f[t] = sum_{t' <= t} s[t'] exp(-(t - t') dt / tau), one loop over time."""
    a = math.exp(-dt / tau)
    out = torch.empty_like(s)
    acc = torch.zeros_like(s[0])
    for t in range(s.shape[0]):
        acc = acc * a + s[t]
        out[t] = acc
    return out


def van_rossum_distance(a: torch.Tensor, b: torch.Tensor, tau: float = 10.0, dt: float = 1.0) -> torch.Tensor:
    """van Rossum (2001): D^2 = (1/tau) * integral (f_a - f_b)^2 dt with exponential kernels of time constant
    ``tau``; per neuron for ``[T, N]``. One spike against none gives sqrt(1/2) for dt << tau."""
    check_range("tau", tau, 0.0, low_inclusive=False)
    check_range("dt", dt, 0.0, low_inclusive=False)
    a, b = _pair(a, b)
    d = exp_filter(a - b, tau, dt)
    return torch.sqrt((d**2).sum(0) * dt / tau)


def _times(s: torch.Tensor, dt: float) -> torch.Tensor:
    return torch.nonzero(s, as_tuple=False).flatten().double() * dt


def victor_purpura_distance(a: torch.Tensor, b: torch.Tensor, q: float = 0.1, dt: float = 1.0) -> float:
    """Victor & Purpura (1996): minimal cost to turn train ``a`` into ``b`` (1 per insertion/deletion,
    q|dt| per shift) for 1-D spike tensors. The dynamic programme is vectorised along each row via cummin."""
    check_range("q", q, 0.0)
    a, b = _pair(a, b)
    if a.dim() != 1:
        raise ConfigError(f"victor_purpura_distance takes 1-D spike trains; got shape {tuple(a.shape)}")
    ta, tb = _times(a, dt), _times(b, dt)
    m = tb.numel()
    j = torch.arange(m + 1, dtype=torch.float64, device=ta.device)
    row = j.clone()  # D[0, j] = j
    for i in range(ta.numel()):
        shift = row[:-1] + q * (ta[i] - tb).abs()
        e = torch.cat([row[:1] + 1, torch.minimum(row[1:] + 1, shift)])
        e[0] = i + 1
        row = torch.cummin(e - j, 0).values + j  # D[i, j] = min_k E[i, k] + (j - k)
    return float(row[-1])


def coincidence_factor(data: torch.Tensor, model: torch.Tensor, delta: float = 2.0, dt: float = 1.0) -> float:
    """Kistler et al. (1997) Gamma = (N_coinc - 2 nu delta N_data) / (0.5 (N_data + N_model)) / (1 - 2 nu delta),
    nu = model rate; a data spike is coincident if a model spike lies within +-``delta``. 1 = identical,
    0 = chance. 1-D trains."""
    check_range("delta", delta, 0.0)
    a, b = _pair(data, model)
    if a.dim() != 1:
        raise ConfigError(f"coincidence_factor takes 1-D spike trains; got shape {tuple(a.shape)}")
    ta, tb = _times(a, dt), _times(b, dt)
    n_d, n_m = ta.numel(), tb.numel()
    if n_d + n_m == 0:
        return float("nan")
    duration = a.shape[0] * dt
    n_coinc = int(((ta[:, None] - tb[None, :]).abs() <= delta + 1e-9).any(1).sum()) if n_m and n_d else 0
    nu = n_m / duration
    norm = 1.0 - 2.0 * nu * delta
    return float((n_coinc - 2 * nu * delta * n_d) / (0.5 * (n_d + n_m)) / norm) if norm > 0 else float("nan")


def firing_rates(s: torch.Tensor, dt: float = 1.0) -> torch.Tensor:
    """Mean rate in Hz per neuron (``dt`` in ms) over the first (time) axis; extra axes are kept."""
    check_range("dt", dt, 0.0, low_inclusive=False)
    check_spikes("spikes", s, (1, 2, 3))
    return s.float().sum(0) / (s.shape[0] * dt * 1e-3)


def isi(s: torch.Tensor, dt: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inter-spike intervals of ``[T, N]`` (or ``[T]``) spikes: (intervals, neuron index of each), vectorised."""
    check_spikes("spikes", s)
    s2 = s.reshape(s.shape[0], -1)
    idx = torch.nonzero(s2.t(), as_tuple=False)  # (neuron, time), sorted by neuron then time
    same = idx[1:, 0] == idx[:-1, 0]
    return ((idx[1:, 1] - idx[:-1, 1]).double() * dt)[same], idx[1:, 0][same]


def cv_isi(s: torch.Tensor, dt: float = 1.0) -> torch.Tensor:
    """Coefficient of variation (std/mean, population std) of each neuron's ISIs; NaN with fewer than 2 ISIs."""
    intervals, who = isi(s, dt)
    n = s.reshape(s.shape[0], -1).shape[1]
    cnt = torch.zeros(n, dtype=torch.float64, device=s.device).index_add_(0, who, torch.ones_like(intervals))
    mean = torch.zeros_like(cnt).index_add_(0, who, intervals) / cnt
    var = torch.zeros_like(cnt).index_add_(0, who, (intervals - mean[who]) ** 2) / cnt
    cv = var.sqrt() / mean
    return torch.where(cnt >= 2, cv, torch.full_like(cv, float("nan")))


def avalanches(s: torch.Tensor, bin_steps: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Neuronal avalanches (Beggs & Plenz 2003): runs of non-empty time bins between empty bins.
    Returns (sizes = spikes per avalanche, durations in bins)."""
    check_range("bin_steps", bin_steps, 1)
    check_spikes("spikes", s)
    c = s.reshape(s.shape[0], -1).float().sum(1)
    n_bins = c.shape[0] // bin_steps
    c = c[: n_bins * bin_steps].reshape(n_bins, bin_steps).sum(1)
    active = c > 0
    if not bool(active.any()):
        z = torch.zeros(0, device=s.device)
        return z, z.long()
    start = active & torch.cat([torch.ones(1, dtype=torch.bool, device=c.device), ~active[:-1]])
    run = torch.cumsum(start.long(), 0) - 1
    n = int(start.sum())
    sizes = torch.zeros(n, device=c.device).index_add_(0, run[active], c[active])
    durs = torch.zeros(n, dtype=torch.long, device=c.device).index_add_(0, run[active], torch.ones_like(run[active]))
    return sizes, durs
