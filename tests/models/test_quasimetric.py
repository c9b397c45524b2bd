from __future__ import annotations

import pytest
import torch
from scipy.stats import skellam

from plasticity.errors import ConfigError
from plasticity.models.quasimetric import PQE, VARIANTS, MLPDistance, QuasimetricNet, prob_poisson_le


def _pqe(variant, seed=0):
    torch.manual_seed(seed)
    q = PQE(8, 4, variant).double()
    with torch.no_grad():  # move away from the symmetric init
        for p in q.parameters():
            p.normal_(0.0, 0.5)
    return q


def test_prob_poisson_le_matches_skellam_cdf():
    a = torch.tensor([0.3, 2.0, 5.0, 0.0, 1e-3], dtype=torch.float64)
    b = torch.tensor([1.0, 0.7, 4.0, 3.0, 2.0], dtype=torch.float64)
    # P[X <= Y] = P[X - Y <= 0]; scipy's Skellam returns nan for a zero rate, where the answer is 1
    expected = torch.tensor([skellam.cdf(0, x, y) if x > 0 else 1.0 for x, y in zip(a.tolist(), b.tolist(), strict=True)])
    torch.testing.assert_close(prob_poisson_le(a, b), expected.double(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(prob_poisson_le(torch.tensor([2.0]), torch.tensor([0.0])), torch.exp(torch.tensor([-2.0])))


@pytest.mark.parametrize("variant", VARIANTS)
def test_pqe_is_a_quasimetric(variant):
    q = _pqe(variant)
    g = torch.Generator().manual_seed(1)
    x, y, z = (2 * torch.randn(3, 1000, 32, generator=g, dtype=torch.float64)).unbind(0)
    y_near = x + 1e-3 * y  # near-degenerate triples, where the inequality is almost tight
    assert torch.equal(q(x, x), torch.zeros(1000, dtype=torch.float64))
    for a, b, c in ((x, y, z), (x, y_near, z), (x, z, y_near)):
        d_ab, d_bc, d_ac = q(a, b), q(b, c), q(a, c)
        assert (d_ab >= 0).all()
        assert (d_ac <= d_ab + d_bc + 1e-12).all()
    assert (q(x, y) - q(y, x)).abs().max() > 1e-3  # genuinely asymmetric


@pytest.mark.parametrize("variant", VARIANTS)
def test_pqe_gradients_are_finite(variant):
    q = PQE(4, 4, variant)
    u, v = torch.randn(2, 64, 16, requires_grad=True).unbind(0)
    q(u, v).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in q.parameters())


def test_quasimetric_net_and_baseline_shapes():
    x, y = torch.randn(2, 10, 5).unbind(0)
    net = QuasimetricNet(5, [16], n_mixtures=4, n_processes=2, variant="gg")
    assert net(x, y).shape == (10,) and torch.equal(net(x, x), torch.zeros(10))
    assert MLPDistance(5, [16])(x, y).shape == (10,)


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="variant"):
        PQE(4, 4, "xx")
    with pytest.raises(ConfigError, match="latent"):
        PQE(4, 4)(torch.zeros(3, 15), torch.zeros(3, 15))
