"""Gain-adaptive recurrent population (after Duong et al. 2023)."""

from __future__ import annotations

import math

import pytest
import torch

from plasticity.circuits.gain import (
    GainPopulation,
    adapt_gains,
    adapter_prior,
    efficient_coding_loss,
    mean_abs_correlation,
    preferred_orientation,
    ring_connectivity,
    stimulus_moments,
    von_mises_tuning,
)
from plasticity.errors import ConfigError


def test_ring_connectivity_radius_and_validation() -> None:
    pref = torch.arange(12, dtype=torch.float64) * math.pi / 12
    w = ring_connectivity(pref, 1.0, 0.5, 1.0, 0.7)
    assert torch.linalg.eigvals(w).abs().max().item() == pytest.approx(0.7)
    assert torch.diagonal(w).abs().max() == 0
    with pytest.raises(ConfigError, match="radius"):
        ring_connectivity(pref, 1.0, 0.5, 1.0, 1.2)
    with pytest.raises(ConfigError, match="g_max"):
        GainPopulation(8, radius=0.9, g_max=1.5)


def test_steady_state_matches_dynamics_and_unit_gains() -> None:
    model = GainPopulation(16, radius=0.8, g_max=1.2)
    assert torch.allclose(model.gains, torch.ones(16, dtype=torch.float64))
    h = model.drive(torch.linspace(0, math.pi, 7, dtype=torch.float64))
    r = model(h).detach()
    eye = torch.eye(16, dtype=torch.float64)
    assert torch.allclose(r, h @ torch.linalg.inv(eye - model.weight).T, atol=1e-10)
    assert torch.allclose(model.simulate(h, steps=1000, dt=0.1), r, atol=1e-6)


def test_tuning_peaks_at_preferred_orientation() -> None:
    stim = torch.arange(64, dtype=torch.float64) * math.pi / 64
    pref = torch.tensor([0.3, 1.0, 2.5], dtype=torch.float64)
    est = preferred_orientation(von_mises_tuning(stim, pref, 2.0), stim)
    assert torch.allclose(est, pref, atol=1e-6)


def test_correlation_metric() -> None:
    p = torch.full((10,), 0.1, dtype=torch.float64)
    base = torch.randn(10, dtype=torch.float64)
    r = torch.stack([base, 2 * base + 1, -base], 1)
    assert mean_abs_correlation(r, p) == pytest.approx(1.0)
    cov, second = stimulus_moments(r, p)
    assert torch.allclose(second - cov, torch.outer(r.mean(0), r.mean(0)))


def test_adaptation_lowers_loss_and_gains_near_adapter() -> None:
    model = GainPopulation(16)
    stim = torch.arange(32, dtype=torch.float64) * math.pi / 32
    adapter = float(stim[16])
    p = adapter_prior(stim, adapter, 0.7)
    assert p.sum().item() == pytest.approx(1.0) and p.argmax().item() == 16
    hist = adapt_gains(model, stim, p, steps=150)
    assert hist[-1] < hist[0]
    cov, second = stimulus_moments(model.drive(stim), p)
    assert float(efficient_coding_loss(model, cov, second, 0.01, 0.3).detach()) == pytest.approx(hist[-1], rel=0.05)
    g = model.gains.detach()
    near = (model.preferred - adapter).abs() < 0.2
    far = (model.preferred - adapter).abs() > 1.2
    assert g[near].mean() < g[far].mean()
    model.reset_gains()
    assert torch.allclose(model.gains, torch.ones(16, dtype=torch.float64))


def test_closed_form_gains_are_the_optimum_without_recurrence() -> None:
    """With W ~ 0 the per-neuron objective separates; Adam must land on the closed form."""
    from plasticity.circuits.gain import analytic_gains

    model = GainPopulation(12, kappa=2.0, radius=1e-6, g_max=1.2)
    stim = torch.arange(24, dtype=torch.float64) * math.pi / 24
    p = adapter_prior(stim, float(stim[12]), 0.7)
    adapt_gains(model, stim, p, noise_var=0.01, alpha=6.0, steps=1500, lr=0.05, fidelity="neuron")
    cov, second = stimulus_moments(model.drive(stim), p)
    want = analytic_gains(cov.diagonal(), second.diagonal(), 0.01, 6.0)
    assert torch.allclose(model.gains.detach(), want, atol=2e-3)


def test_self_consistent_gains_solve_the_closed_form_for_their_own_inputs() -> None:
    from plasticity.circuits.gain import analytic_gains, self_consistent_gains

    model = GainPopulation(12, kappa=2.0, radius=0.8, g_max=1.2)
    stim = torch.arange(24, dtype=torch.float64) * math.pi / 24
    cov, second = stimulus_moments(model.drive(stim), adapter_prior(stim, float(stim[3]), 0.7))
    g = self_consistent_gains(model.weight, cov, second, 0.01, 6.0, 1.2)
    t = torch.linalg.inv(torch.eye(12, dtype=torch.float64) - model.weight * g[None, :])
    want = analytic_gains((t @ cov @ t.T).diagonal(), (t @ second @ t.T).diagonal(), 0.01, 6.0).clamp(max=1.2)
    assert torch.allclose(g, want, atol=1e-6)


def test_gains_without_recurrence_neither_repel_nor_decorrelate() -> None:
    """r_i = g_i h_i: tuning curves only rescale, so preferred orientations and correlations are unchanged."""
    model = GainPopulation(12, kappa=2.0, radius=1e-6, g_max=1.2)
    stim = torch.arange(24, dtype=torch.float64) * math.pi / 24
    p = adapter_prior(stim, float(stim[12]), 0.7)
    h = model.drive(stim)
    r0 = model(h).detach()
    adapt_gains(model, stim, p, noise_var=0.01, alpha=6.0, steps=200, fidelity="neuron")
    r1 = model(h).detach()
    assert torch.allclose(preferred_orientation(r1, stim), preferred_orientation(r0, stim), atol=1e-5)
    assert mean_abs_correlation(r1, p) == pytest.approx(mean_abs_correlation(r0, p), abs=1e-5)


def test_bad_fidelity_and_alpha_raise() -> None:
    from plasticity.circuits.gain import analytic_gains

    model = GainPopulation(8)
    cov = second = torch.eye(8, dtype=torch.float64)
    with pytest.raises(ConfigError, match="fidelity"):
        efficient_coding_loss(model, cov, second, 0.01, 0.3, fidelity="pixel")
    with pytest.raises(ConfigError, match="alpha"):
        analytic_gains(torch.ones(3), torch.ones(3), 0.01, 0.0)
