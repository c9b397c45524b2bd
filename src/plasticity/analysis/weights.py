"""Weight-distribution fingerprints (Pogodin et al., ICLR 2024): the dual-space change of a mirror map and
its distance to a Gaussian; normal vs log-normal fits of weight magnitudes; histograms.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from ..geometry.potentials import Potential, make_potential


def _flat(x: torch.Tensor | np.ndarray) -> np.ndarray:
    a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)
    return a.ravel()


def dual_change(w0: torch.Tensor, wt: torch.Tensor, potential: str | Potential) -> torch.Tensor:
    """∇φ(w_T) − ∇φ(w_0), flattened, standardised to mean 0 and std 1 (finite entries only)."""
    if w0.shape != wt.shape:
        raise ConfigError(f"w0 has shape {tuple(w0.shape)} but wt has {tuple(wt.shape)}")
    pot = make_potential(potential)
    d = (pot.grad(wt.detach().double()) - pot.grad(w0.detach().double())).flatten()
    d = d[torch.isfinite(d)]
    if d.numel() < 2:
        raise ConfigError("dual change needs at least 2 finite entries")
    std = d.std()
    return (d - d.mean()) / (std if std > 0 else 1.0)


def distance_to_normal(z: torch.Tensor | np.ndarray, lo: float = -5.0, hi: float = 5.0, grid: int = 4001) -> float:
    """∫_{lo}^{hi} |ECDF_z(x) − Φ(x)| dx (trapezoid on ``grid`` points), the paper's Gaussianity distance."""
    a = np.sort(_flat(z))
    if a.size == 0:
        raise ConfigError("distance_to_normal needs a non-empty sample")
    xs = np.linspace(lo, hi, grid)
    ecdf = np.searchsorted(a, xs, side="right") / a.size
    from scipy import stats  # lazy: scipy.stats costs ~0.5 s to import

    return float(np.trapezoid(np.abs(ecdf - stats.norm.cdf(xs)), xs))


def lognormal_vs_normal(w: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Normal fit to the signed weights vs a sign-symmetric log-normal fit (log-normal |w|, random signs), MLE.

    Returns the mean per-weight log-likelihood ratio ``llr`` = ℓ_lognormal − ℓ_normal (> 0: log-normal fits
    better), both log-likelihoods, and the KS statistics of the normal fit (on w) and log-normal fit (on |w|).
    """
    a = _flat(w)
    a = a[a != 0]
    if a.size < 3:
        raise ConfigError("lognormal_vs_normal needs at least 3 non-zero weights")
    m = np.abs(a)
    mu, sd = a.mean(), a.std()
    lm, ls = np.log(m).mean(), np.log(m).std()
    from scipy import stats

    ll_n = stats.norm.logpdf(a, mu, sd).mean()
    ll_ln = stats.lognorm.logpdf(m, ls, scale=math.exp(lm)).mean() - math.log(2.0)
    return {"llr": float(ll_ln - ll_n), "loglik_normal": float(ll_n), "loglik_lognormal": float(ll_ln),
            "ks_normal": float(stats.kstest(a, "norm", args=(mu, sd)).statistic),
            "ks_lognormal": float(stats.kstest(m, "lognorm", args=(ls, 0, math.exp(lm))).statistic)}


def weight_histogram(w: torch.Tensor | np.ndarray, bins: int = 50, log_magnitude: bool = False,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Density histogram of the weights (or of log|w| if ``log_magnitude``): (density, bin_edges)."""
    a = _flat(w)
    if log_magnitude:
        a = np.log(np.abs(a[a != 0]))
    return np.histogram(a, bins=bins, density=True)
