"""The lateral Hebbian (Oja subspace) learner finds the top principal subspace; SVD reference; angles."""

from __future__ import annotations

import pytest
import torch

from plasticity.continual import HebbianSubspace, captured_energy, principal_angles, svd_components
from plasticity.errors import ConfigError, DivergenceError


def _data(n: int = 24, top: tuple[float, ...] = (9.0, 8.0, 7.0, 6.0, 5.0), rest: float = 0.5,
          samples: int = 10000, scale: float = 1.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian samples whose covariance has eigenvalues ``top`` then ``rest`` along a random rotation q."""
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(n, n, generator=g))[0]
    spec = torch.tensor(list(top) + [rest] * (n - len(top)))
    x = (torch.randn(samples, n, generator=g) * spec.sqrt()) @ q.t() * scale
    return x, q


@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0])
def test_hebbian_subspace_converges_to_top_principal_subspace(scale: float) -> None:
    x, q = _data(scale=scale)
    sub = HebbianSubspace(24, seed=1)
    sub.add_components(5)
    sub.fit(x, epochs=10, batch_size=64)
    angles = principal_angles(sub.weight.t(), q[:, :5])
    assert float(angles.max()) < 3.0, angles
    # the lateral weights themselves become an orthonormal basis (so x - M^T M x is a projection)
    w = sub.weight
    assert torch.allclose(w @ w.t(), torch.eye(5), atol=0.03)


@pytest.mark.parametrize("rule", ["gha", "oja"])
def test_oja_subspace_rule_and_unnormalised_rates_also_converge(rule: str) -> None:
    x, q = _data()
    sub = HebbianSubspace(24, lr=0.3, normalize=False, rule=rule, seed=2)
    sub.add_components(5)
    sub.fit(x, epochs=6, batch_size=64)
    assert float(principal_angles(sub.weight.t(), q[:, :5]).max()) < 3.0


def test_new_components_learn_the_residual_while_old_ones_stay_fixed() -> None:
    x, q = _data(top=(9.0, 8.0, 7.0, 4.0, 3.5, 3.0))
    sub = HebbianSubspace(24, seed=3)
    sub.add_components(3)
    sub.fit(x, epochs=8)
    sub.freeze()
    first = sub.weight.clone()
    sub.add_components(3)
    sub.fit(x, epochs=8)
    assert torch.equal(sub.weight[:3], first)
    assert float(principal_angles(first.t(), q[:, :3]).max()) < 3.0
    assert float(principal_angles(sub.weight.t(), q[:, :6]).max()) < 3.0
    # and the two groups are orthogonal to each other
    assert float((sub.weight[:3] @ sub.weight[3:].t()).abs().max()) < 0.05


def test_svd_components_and_project_out() -> None:
    x, q = _data()
    top = svd_components(x, 5)
    assert top.shape == (5, 24)
    assert float(principal_angles(top.t(), q[:, :5]).max()) < 2.0
    more = svd_components(x, 2, basis=top)
    assert float((more @ top.t()).abs().max()) < 1e-5
    sub = HebbianSubspace(24)
    sub.weight = top.clone()
    g = torch.randn(7, 24)
    p = sub.project_out(g)
    assert float((p @ top.t()).abs().max()) < 1e-4
    assert captured_energy(x, top) > captured_energy(x, torch.randn(5, 24))


def test_principal_angles_known_values() -> None:
    e = torch.eye(3)
    assert torch.allclose(principal_angles(e[:, :1], e[:, :1]), torch.zeros(1), atol=1e-3)
    assert torch.allclose(principal_angles(e[:, :1], e[:, 1:2]), torch.tensor([90.0]))
    v = torch.tensor([[1.0], [1.0], [0.0]])
    assert torch.allclose(principal_angles(e[:, :1], v), torch.tensor([45.0]), atol=1e-3)
    with pytest.raises(ConfigError):
        principal_angles(torch.zeros(3, 1), torch.zeros(4, 1))


def test_too_many_components_and_bad_activity_raise() -> None:
    sub = HebbianSubspace(6, name="fc1")
    sub.add_components(4)
    with pytest.raises(ConfigError, match=r"fc1.*7 subspace components.*only 6 inputs"):
        sub.add_components(3)
    with pytest.raises(ConfigError, match="n_features=6"):
        sub.fit(torch.randn(10, 5))
    with pytest.raises(ConfigError, match="lr"):
        HebbianSubspace(6, lr=0.0)


def test_divergent_hebbian_rate_raises_instead_of_returning_nan() -> None:
    x, _ = _data()
    sub = HebbianSubspace(24, lr=50.0, momentum=0.0, normalize=False, anneal=False, seed=0, name="fc2")
    sub.add_components(5)
    with pytest.raises(DivergenceError, match=r"fc2.*non-finite.*lower lr"):
        sub.fit(x, epochs=2)
