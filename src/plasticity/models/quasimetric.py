"""Poisson Quasimetric Embeddings (Wang & Isola, "On the learning and learnability of quasimetrics", ICLR 2022).

A latent ``u ∈ R^{h·k}`` is read as ``h`` groups of ``k`` one-dimensional Poisson processes. Each coordinate
maps a point to a set ``A(u_i)`` in its process's space; the count of process points in ``A(u_i) \\ A(v_i)``
versus ``A(v_i) \\ A(u_i)`` gives a random *quasipartition* π_j(u, v) ∈ {0, 1} (paper Eq. 8). Its expectation

    E π_j(u, v) = 1 − Π_i P[Poisson(μ(A(u_i) \\ A(v_i))) ≤ Poisson(μ(A(v_i) \\ A(u_i)))]      (Eq. 13)

is a quasimetric (the coupling of all shapes through one process makes the triangle inequality hold
pointwise), and ``d(u, v) = Σ_j α_j E π_j(u, v)`` with ``α_j ≥ 0`` is too: d(u, u) = 0, d ≥ 0 and
d(u, w) ≤ d(u, v) + d(v, w) hold by construction, while d(u, v) ≠ d(v, u) is allowed.

Variants (name = measure + shape):
- ``lh`` (Lebesgue measure, half-lines ``(−∞, u_i]``): nested sets, so E π = 1 − exp(−mean_i (u_i − v_i)^+) (Eq. 9).
- ``gh`` (Gaussian measure, half-lines): rates ``λ_i (Φ(u_i/σ_i) − Φ(v_i/σ_i))^+``.
- ``gg`` (Gaussian measure, Gaussian-density shapes ``{(x, y): 0 ≤ y ≤ φ(x − u_i)}``): sets are not nested;
  both differences are non-zero and the two-Poisson comparison is computed as a truncated sum over counts.

The rate per process is divided by ``k`` (the mean over processes, as the reference implementation does for
stability at initialisation). ``MLPDistance`` is the unconstrained baseline: an MLP on the pair.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_choice, check_range
from .mlp import MLP

VARIANTS = ("lh", "gh", "gg")


def prob_poisson_le(a: torch.Tensor, b: torch.Tensor, max_count: int | None = None) -> torch.Tensor:
    """P[X ≤ Y] for independent X ~ Poisson(a), Y ~ Poisson(b), elementwise, as Σ_n P[Y = n] P[X ≤ n].

    The sum is truncated at ``max_count`` (default: mean + 10 sd of the largest rate + 16), where the
    neglected tail mass is below float64 precision. Differentiable in ``a`` and ``b``.
    """
    if max_count is None:
        top = float(torch.maximum(a.detach().max(), b.detach().max())) if a.numel() else 0.0
        max_count = math.ceil(top + 10.0 * math.sqrt(top) + 16)
    n = torch.arange(max_count + 1, device=a.device, dtype=a.dtype)
    lgam = torch.lgamma(n + 1)
    a_, b_ = a.unsqueeze(-1), b.unsqueeze(-1)
    tiny = torch.finfo(a.dtype).tiny
    log_pa = n * torch.log(a_.clamp_min(tiny)) - a_ - lgam
    log_pb = n * torch.log(b_.clamp_min(tiny)) - b_ - lgam
    # Rates of exactly 0 put all mass on n = 0 (the clamped log handles n > 0; fix n = 0 to exp(-0) = 1).
    pa = torch.where((a_ == 0) & (n > 0), torch.zeros_like(log_pa), log_pa.exp())
    pb = torch.where((b_ == 0) & (n > 0), torch.zeros_like(log_pb), log_pb.exp())
    return (pb * pa.cumsum(-1)).sum(-1).clamp(0.0, 1.0)


class PQE(nn.Module):
    """Poisson Quasimetric Embedding head: ``d(u, v)`` for latents of size ``n_mixtures · n_processes``.

    ``variant``: ``"lh"`` (PQE-LH), ``"gg"`` (PQE-GG) or ``"gh"`` (Gaussian measure with half-lines).
    Learnable: mixture weights α (softplus, ≥ 0); for Gaussian measures the per-process measure scale σ² and
    intensity λ (both through ``exp``). Output shape is the broadcast batch shape of ``u`` and ``v``.
    """

    def __init__(self, n_mixtures: int = 16, n_processes: int = 4, variant: str = "lh") -> None:
        super().__init__()
        check_range("n_mixtures", n_mixtures, 1)
        check_range("n_processes", n_processes, 1)
        self.variant = check_choice("variant", variant, VARIANTS)
        self.n_mixtures, self.n_processes = int(n_mixtures), int(n_processes)
        self.latent_dim = self.n_mixtures * self.n_processes
        self.raw_alpha = nn.Parameter(torch.zeros(self.n_mixtures))
        if variant != "lh":
            self.log_sigma2 = nn.Parameter(torch.zeros(self.n_mixtures, self.n_processes))
            self.log_intensity = nn.Parameter(torch.zeros(self.n_mixtures, self.n_processes))

    @property
    def alpha(self) -> torch.Tensor:
        """Non-negative mixture weights α_j."""
        return F.softplus(self.raw_alpha)

    def _rates(self, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Measures μ(A(u) \\ A(v)) and μ(A(v) \\ A(u)) per process, shape ``(..., h, k)``."""
        if self.variant == "lh":
            return (u - v).clamp_min(0), (v - u).clamp_min(0)
        sigma2 = self.log_sigma2.exp()
        lam = self.log_intensity.exp()
        if self.variant == "gh":
            sigma = sigma2.sqrt()
            diff = torch.special.ndtr(u / sigma) - torch.special.ndtr(v / sigma)
            return lam * diff.clamp_min(0), lam * (-diff).clamp_min(0)
        # gg: shape of u is the region under the unit Gaussian density centred at u; the measure is the
        # N(0, σ²) density in x times Lebesgue in y. Then the mass of u's shape is N(u; 0, 1 + σ²), and the
        # mass restricted to x < c is that times Φ((c − u σ²/(1+σ²)) / sqrt(σ²/(1+σ²))).
        s2 = 1.0 + sigma2
        total_u = torch.exp(-0.5 * u**2 / s2) / torch.sqrt(2 * math.pi * s2)
        total_v = torch.exp(-0.5 * v**2 / s2) / torch.sqrt(2 * math.pi * s2)
        shrink = sigma2 / s2
        sd = shrink.sqrt()
        mid = 0.5 * (u + v)
        below_u = torch.special.ndtr((mid - u * shrink) / sd)  # fraction of u's mass at x < mid
        below_v = torch.special.ndtr((mid - v * shrink) / sd)
        # min of the two densities is the one centred farther away: v's left of mid when u < v, and so on.
        inter = torch.where(u < v, below_v * total_v + (1 - below_u) * total_u,
                            below_u * total_u + (1 - below_v) * total_v)
        inter = torch.minimum(inter, torch.minimum(total_u, total_v))
        return lam * (total_u - inter), lam * (total_v - inter)

    def quasipartitions(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Expected quasipartitions E π_j(u, v) ∈ [0, 1], shape ``(..., n_mixtures)``."""
        if u.shape[-1] != self.latent_dim or v.shape[-1] != self.latent_dim:
            raise ConfigError(f"latents have sizes {u.shape[-1]} and {v.shape[-1]}; PQE expects "
                              f"n_mixtures·n_processes = {self.latent_dim}")
        shape = (self.n_mixtures, self.n_processes)
        u, v = torch.broadcast_tensors(u.unflatten(-1, shape), v.unflatten(-1, shape))
        a, b = self._rates(u, v)
        a, b = a / self.n_processes, b / self.n_processes
        if self.variant == "gg":
            return 1.0 - prob_poisson_le(a, b).prod(-1)
        return -torch.expm1(-a.sum(-1))  # nested sets: P[X ≤ Y] = P[X = 0] = exp(−a) since b·a = 0

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (self.quasipartitions(u, v) * self.alpha).sum(-1)


class QuasimetricNet(nn.Module):
    """Encoder MLP ``inputs → latent`` followed by a PQE head: ``d(x, y) = PQE(f(x), f(y))``."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] | list[int] = (128, 128), n_mixtures: int = 16,
                 n_processes: int = 4, variant: str = "lh") -> None:
        super().__init__()
        self.head = PQE(n_mixtures, n_processes, variant)
        self.encoder = MLP([in_dim, *hidden, self.head.latent_dim])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x), self.encoder(y))


class MLPDistance(nn.Module):
    """Unconstrained baseline: ``d(x, y) = MLP([x, y])``, no quasimetric structure imposed."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] | list[int] = (128, 128)) -> None:
        super().__init__()
        self.net = MLP([2 * in_dim, *hidden, 1])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, y], dim=-1)).squeeze(-1)


__all__ = ["PQE", "VARIANTS", "MLPDistance", "QuasimetricNet", "prob_poisson_le"]
