"""Encoders from analog intensities in [0, 1] to spike sequences ``[T, *x.shape]``: Poisson rate coding,
latency (time-to-first-spike) coding, and direct current (the analog value every step)."""

from __future__ import annotations

import torch

from ..errors import ConfigError, check_choice, check_range

ENCODERS = ("poisson", "latency", "current")


def _check_intensity(x: torch.Tensor, name: str = "x") -> None:
    if x.numel() and float(x.min()) < 0:
        raise ConfigError(f"{name} holds negative values (min {float(x.min()):.4g}); rates/intensities must be >= 0")


def poisson_encode(x: torch.Tensor, n_steps: int, max_rate: float = 100.0, dt: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli approximation of a Poisson process: P(spike in a step) = x * max_rate[Hz] * dt[ms] / 1000."""
    check_range("n_steps", n_steps, 1)
    check_range("dt", dt, 0.0, low_inclusive=False)
    check_range("max_rate", max_rate, 0.0)
    _check_intensity(x)
    p = x * (max_rate * dt * 1e-3)
    if p.numel() and float(p.max()) > 1.0:
        raise ConfigError(f"rate x max_rate x dt gives spike probability {float(p.max()):.3g} > 1 per step; "
                          "lower max_rate or dt")
    u = torch.rand((int(n_steps), *x.shape), generator=generator, device="cpu" if generator is not None else x.device)
    return (u.to(x.device) < p.unsqueeze(0)).to(x.dtype)


def latency_encode(x: torch.Tensor, n_steps: int, threshold: float = 0.01) -> torch.Tensor:
    """One spike per input at step round((1 - x) * (n_steps - 1)): bright inputs fire first; x < threshold never fires."""
    check_range("n_steps", n_steps, 1)
    _check_intensity(x)
    t = ((1.0 - x.clamp(max=1.0)) * (n_steps - 1)).round().long()
    steps = torch.arange(int(n_steps), device=x.device).view(-1, *([1] * x.dim()))
    return ((steps == t.unsqueeze(0)) & (x >= threshold).unsqueeze(0)).to(x.dtype)


def encode(x: torch.Tensor, kind: str, n_steps: int, dt: float = 1.0, max_rate: float = 100.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Dispatch to the named encoder; ``current`` repeats ``x`` as an input current every step."""
    check_choice("encoder", kind, ENCODERS)
    if kind == "poisson":
        return poisson_encode(x, n_steps, max_rate, dt, generator)
    if kind == "latency":
        return latency_encode(x, n_steps)
    check_range("n_steps", n_steps, 1)
    return x.unsqueeze(0).expand(int(n_steps), *x.shape)
