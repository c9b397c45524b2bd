"""Weight-distribution fingerprints: dual change, distance to N(0,1), normal vs log-normal fits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plasticity.analysis.weights import distance_to_normal, dual_change, lognormal_vs_normal, weight_histogram
from plasticity.errors import ConfigError


def test_distance_to_normal_small_for_gaussian_large_otherwise() -> None:
    rng = np.random.default_rng(0)
    assert distance_to_normal(rng.standard_normal(20000)) < 0.02
    z = rng.standard_exponential(20000)
    z = (z - z.mean()) / z.std()
    assert distance_to_normal(z) > 0.1
    assert distance_to_normal(np.zeros(10)) == pytest.approx(2 * 0.398942, abs=1e-2)  # ∫|H(x) − Φ(x)| = 2φ(0)


def test_dual_change_matches_potential() -> None:
    torch.manual_seed(0)
    w0 = torch.rand(5000) + 0.5
    delta = torch.randn(5000) * 0.1
    wt = w0 * torch.exp(delta)  # a Gaussian change in the negentropy dual space
    assert distance_to_normal(dual_change(w0, wt, "negentropy")) < 0.03
    z = dual_change(w0, wt, "euclidean")
    assert abs(float(z.mean())) < 1e-9 and float(z.std()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="shape"):
        dual_change(w0, wt[:10], "euclidean")


def test_lognormal_vs_normal_llr_sign() -> None:
    rng = np.random.default_rng(1)
    ln = np.exp(rng.normal(-2, 1.0, 20000)) * rng.choice([-1, 1], 20000)
    fit = lognormal_vs_normal(ln)
    assert fit["llr"] > 0 and fit["ks_lognormal"] < 0.02
    fit = lognormal_vs_normal(rng.normal(0, 1, 20000))
    assert fit["llr"] < 0 and fit["ks_normal"] < 0.02
    dens, edges = weight_histogram(torch.tensor(ln), bins=20, log_magnitude=True)
    assert dens.shape == (20,) and edges.shape == (21,)
    assert np.sum(dens * np.diff(edges)) == pytest.approx(1.0)
