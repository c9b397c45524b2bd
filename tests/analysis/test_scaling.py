from __future__ import annotations

import numpy as np
import pytest

import plasticity as P
from plasticity.analysis.scaling import ScalingLaw, fit_approach2, fit_approach3, fit_vpnls, isoflop_grid

LAW = ScalingLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def test_n_opt_is_the_isoflop_minimum():
    c = 1e20
    n = np.logspace(8, 12, 20001)
    loss = LAW.loss(n, c / (6 * n))
    assert abs(np.log(n[np.argmin(loss)] / LAW.n_opt(c))) < 1e-3


def test_vpnls_recovers_noise_free_parameters():
    _, n, d, loss = isoflop_grid(LAW, np.logspace(17, 21, 4), points=9)
    fit = fit_vpnls(n, d, loss)
    for k, v in LAW.as_dict().items():
        assert abs(getattr(fit, k) - v) / v < 1e-6, k


def test_approach3_recovers_noise_free_parameters():
    _, n, d, loss = isoflop_grid(LAW, np.logspace(17, 21, 4), points=9)
    fit = fit_approach3(n, d, loss, starts=4)
    assert abs(fit.alpha - 0.34) < 1e-3 and abs(fit.beta - 0.28) < 1e-3


def test_approach2_exact_when_symmetric_and_biased_otherwise():
    sym = ScalingLaw(E=1.69, A=406.4, B=410.7, alpha=0.3, beta=0.3)
    b = np.logspace(17, 21, 5)
    c, n, _, loss = isoflop_grid(sym, b, span=100)
    f = fit_approach2(c, n, loss)
    np.testing.assert_allclose(f.n_opt, sym.n_opt(b), rtol=1e-8)
    c, n, _, loss = isoflop_grid(LAW, b, span=100)
    f = fit_approach2(c, n, loss)
    assert np.max(np.abs(np.asarray(f.n_opt) / LAW.n_opt(b) - 1)) > 0.01
    c, n, _, loss = isoflop_grid(LAW, b, span=16, drift=8.0)
    assert abs(fit_approach2(c, n, loss).a - LAW.a) > 1e-3


def test_bad_inputs():
    with pytest.raises(P.ConfigError, match="at least 5"):
        fit_vpnls([1, 2], [1, 2], [1, 2])
    with pytest.raises(P.ConfigError, match="same length"):
        fit_vpnls(np.ones(6), np.ones(5), np.ones(6))
    with pytest.raises(P.ConfigError, match="two compute budgets"):
        fit_approach2(np.ones(5), np.arange(1, 6), np.ones(5))
