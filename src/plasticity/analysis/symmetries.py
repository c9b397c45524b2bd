"""Functional dimension and hidden symmetries of ReLU MLPs (Grigsby, Lindsey & Rolnick, ICML 2023).

The *batch functional dimension* at a parameter θ is the rank of the Jacobian ∂F_θ(x_b)/∂θ stacked over a
batch of inputs (rows: every output of every input; columns: every parameter). ReLU's positive scaling of each
hidden neuron (multiply its incoming weights and bias by c > 0, divide its outgoing weights by c) leaves F
unchanged, so the rank is at most ``#params − #hidden neurons`` (paper, Sec. 3). A parameter whose rank falls
short of this bound on (a dense sample of) the whole input space has *hidden symmetries*: directions in
parameter space that do not change the function beyond the obvious scaling/permutation ones (dead or stably
unactivated neurons, collapsed layers, ...).

Rank is computed in float64 with an SVD and the standard threshold ``tol = σ_max · max(m, n) · eps``
(``numpy.linalg.matrix_rank``'s default, Golub & Van Loan); the spectral gap at the cut is reported so that
a borderline decision is visible.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from ..errors import ConfigError, check_range


@dataclass
class FunctionalDimension:
    """Rank of the parameter Jacobian, its upper bound and the evidence for the rank decision."""

    rank: int
    bound: int
    n_params: int
    n_hidden: int
    tol: float
    gap: float  # σ_rank / σ_{rank+1} (inf when the Jacobian has full column rank or σ_{rank+1} = 0)
    singular_values: torch.Tensor

    @property
    def deficit(self) -> int:
        """How far below the bound the rank is (0: no hidden symmetries detected)."""
        return self.bound - self.rank

    @property
    def has_hidden_symmetries(self) -> bool:
        return self.rank < self.bound


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a feed-forward ReLU net, in order (``model.layers`` for ``MLP``)."""
    layers = list(model.layers) if hasattr(model, "layers") else [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers or not all(isinstance(m, nn.Linear) for m in layers):
        raise ConfigError("model must be a ReLU MLP whose layers are nn.Linear (e.g. plasticity.models.MLP)")
    return layers


def count_hidden_neurons(model: nn.Module) -> int:
    """Number of hidden ReLU neurons: outputs of every linear layer but the last."""
    return sum(m.out_features for m in linear_layers(model)[:-1])


def dimension_bound(model: nn.Module) -> int:
    """Upper bound on the functional dimension: ``#params − #hidden neurons`` (one scaling per hidden neuron)."""
    n_params = sum(p.numel() for p in model.parameters())
    return n_params - count_hidden_neurons(model)


def bound_for_sizes(sizes: list[int] | tuple[int, ...], bias: bool = True) -> int:
    """``#params − #hidden neurons`` for an MLP with layer widths ``sizes`` (no model needed)."""
    params = sum(a * b + (b if bias else 0) for a, b in itertools.pairwise(sizes))
    return params - sum(sizes[1:-1])


def parameter_jacobian(model: nn.Module, x: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Jacobian of all outputs over the batch ``x`` w.r.t. all parameters, shape ``(B·n_out, n_params)``.

    Per-sample ``torch.func.jacrev`` vectorised over the batch with ``vmap`` (cost linear in ``B``), on a
    float64 copy of the model; columns follow ``model.named_parameters()`` order.
    """
    m = copy.deepcopy(model).to(dtype)
    names = [n for n, _ in m.named_parameters()]
    params = {n: p.detach() for n, p in m.named_parameters()}
    x = x.to(device=next(iter(params.values())).device, dtype=dtype)

    def f(ps: dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
        return functional_call(m, ps, (xi.unsqueeze(0),)).reshape(-1)

    jac = vmap(jacrev(f), in_dims=(None, 0))(params, x)  # name -> (B, n_out, *param.shape)
    b, n_out = x.shape[0], jac[names[0]].shape[1]
    return torch.cat([jac[n].reshape(b * n_out, -1) for n in names], dim=1)


def numerical_rank(mat: torch.Tensor, rtol: float | None = None) -> tuple[int, float, float, torch.Tensor]:
    """Rank of ``mat`` by SVD: count of σ > tol with ``tol = σ_max · rtol`` (default ``max(m, n) · eps``).

    Returns ``(rank, tol, gap, singular_values)`` where ``gap = σ_rank / σ_{rank+1}``.
    """
    sv = torch.linalg.svdvals(mat)
    if rtol is None:
        rtol = max(mat.shape) * torch.finfo(mat.dtype).eps
    smax = float(sv[0]) if sv.numel() else 0.0
    tol = smax * rtol
    rank = int((sv > tol).sum())
    if rank == 0:
        gap = math.inf if smax == 0.0 else 1.0
    elif rank >= sv.numel() or float(sv[rank]) == 0.0:
        gap = math.inf
    else:
        gap = float(sv[rank - 1] / sv[rank])
    return rank, tol, gap, sv


def sample_inputs(n: int, dim: int, generator: torch.Generator | None = None, r_min: float = 0.1,
                  r_max: float = 10.0, device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` points ``z · r`` with ``z ~ N(0, I)`` and ``r`` log-uniform in ``[r_min, r_max]``.

    Mixing radii covers both the small activation regions near the origin and the unbounded outer ones,
    so that the batch rank approximates the rank over all of input space.
    """
    check_range("n", n, 1)
    z = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    log_r = torch.empty(n, 1, dtype=torch.float64).uniform_(math.log(r_min), math.log(r_max), generator=generator)
    return (z * log_r.exp()).to(device or "cpu")


def functional_dimension(model: nn.Module, x: torch.Tensor, rtol: float | None = None) -> FunctionalDimension:
    """Batch functional dimension of ``model`` on inputs ``x`` compared with ``#params − #hidden``."""
    layers = linear_layers(model)
    n_params = sum(p.numel() for p in model.parameters())
    n_hidden = sum(m.out_features for m in layers[:-1])
    rows = x.shape[0] * layers[-1].out_features
    if rows < n_params - n_hidden:
        raise ConfigError(f"batch gives {rows} Jacobian rows but the bound is {n_params - n_hidden}; "
                          f"use at least {math.ceil((n_params - n_hidden) / layers[-1].out_features)} inputs")
    jac = parameter_jacobian(model, x)
    # Rank is invariant to scaling rows; unit rows stop far-away inputs (large |x|) from drowning the
    # contributions of small activation regions near the origin below the threshold.
    norms = jac.norm(dim=1, keepdim=True)
    jac = torch.where(norms > 0, jac / norms.clamp_min(torch.finfo(jac.dtype).tiny), jac)
    rank, tol, gap, sv = numerical_rank(jac, rtol)
    return FunctionalDimension(rank, n_params - n_hidden, n_params, n_hidden, tol, gap, sv)


def has_hidden_symmetries(model: nn.Module, x: torch.Tensor | None = None, n_inputs: int | None = None,
                          seed: int = 0) -> bool:
    """True when the functional dimension on ``x`` (or on sampled inputs) is below ``#params − #hidden``."""
    if x is None:
        layers = linear_layers(model)
        bound = dimension_bound(model)
        n = n_inputs or max(256, 4 * math.ceil(bound / layers[-1].out_features))
        g = torch.Generator().manual_seed(seed)
        x = sample_inputs(n, layers[0].in_features, g)
    return functional_dimension(model, x).has_hidden_symmetries


__all__ = [
    "FunctionalDimension", "bound_for_sizes", "count_hidden_neurons", "dimension_bound", "functional_dimension",
    "has_hidden_symmetries", "linear_layers", "numerical_rank", "parameter_jacobian", "sample_inputs",
]
