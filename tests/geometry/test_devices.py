"""Synapse devices: levels, range, curves, schemes, refresh, errors."""

from __future__ import annotations

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.geometry import DeviceSynapses


def test_linear_device_programs_and_moves_on_grid() -> None:
    w = torch.tensor([0.5, -0.25, 0.0], requires_grad=True)
    opt = DeviceSynapses([w], lr=1.0, levels=5, scheme="unidirectional", w_range=1.0)
    assert torch.allclose(w, torch.tensor([0.5, -0.25, 0.0]))
    w.grad = torch.tensor([-0.25, -0.25, 0.25])  # exactly one pulse each
    opt.step()
    assert torch.allclose(w, torch.tensor([0.75, 0.0, -0.25]))
    st = opt.state[w]
    assert torch.equal(st["n_plus"], torch.tensor([3.0, 1.0, 0.0]))


def test_unidirectional_refresh_and_range() -> None:
    torch.manual_seed(0)
    w = torch.zeros(200, requires_grad=True)
    opt = DeviceSynapses([w], lr=0.05, levels=8, nonlinearity=4.0, scheme="unidirectional")
    for _ in range(200):
        w.grad = torch.randn(200)
        opt.step()
        assert w.abs().max() <= 1.0 + 1e-6
    assert opt.refreshes > 0
    st = opt.state[w]
    assert st["n_plus"].max() <= 7 and torch.equal(st["n_plus"], st["n_plus"].round())


def test_nonlinear_bidirectional_asymmetry_and_read_noise() -> None:
    w = torch.zeros(1000, requires_grad=True)
    opt = DeviceSynapses([w], lr=1 / 31, levels=32, nonlinearity=5.0, scheme="bidirectional", seed=0)
    # balanced up/down pulses drift the weight on an asymmetric nonlinear device
    for i in range(60):
        w.grad = torch.full((1000,), 2.0 if i % 2 else -2.0)
        opt.step()
    assert w.abs().mean() > 0.05
    v = torch.full((100,), 0.3, requires_grad=True)
    noisy = DeviceSynapses([v], levels=1024, read_noise=0.01)
    assert 0.0 < (v - noisy.device_weights()[0]).std() < 0.05


def test_programming_rounds_stochastically_and_unbiased() -> None:
    # |w| = 0.02 lies below half the first step of a ν=5, 32-level device (≈ 0.15·w_range): nearest rounding
    # programs every weight to zero, stochastic rounding keeps the mean weight (Lim et al. 2017 device model)
    target = torch.full((20000,), 0.02)
    near = target.clone().requires_grad_(True)
    DeviceSynapses([near], levels=32, nonlinearity=5.0, scheme="unidirectional", rounding="nearest")
    assert torch.count_nonzero(near) == 0
    sto = target.clone().requires_grad_(True)
    DeviceSynapses([sto], levels=32, nonlinearity=5.0, scheme="unidirectional", seed=1)
    assert torch.count_nonzero(sto) > 0
    assert abs(float(sto.detach().mean()) - 0.02) < 0.003


def test_bad_device_input() -> None:
    w = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ConfigError, match="levels"):
        DeviceSynapses(w, levels=1)
    with pytest.raises(ConfigError, match="g_min"):
        DeviceSynapses(w, g_min=1.0, g_max=1.0)
    with pytest.raises(ConfigError, match="scheme"):
        DeviceSynapses(w, scheme="sideways")
    with pytest.raises(ConfigError, match="nonlinearity"):
        DeviceSynapses(w, nonlinearity=-1)
    with pytest.raises(ConfigError, match="rounding"):
        DeviceSynapses(w, rounding="up")


def test_device_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    w = (torch.rand(50) - 0.5).requires_grad_(True)
    opt = DeviceSynapses([w], lr=0.05, levels=16, nonlinearity=2.0, scheme="unidirectional", variation=0.1)
    w.grad = torch.randn(50)
    opt.step()
    v = torch.zeros(50, requires_grad=True)
    opt2 = DeviceSynapses([v], lr=0.05, levels=16, nonlinearity=2.0, scheme="unidirectional", variation=0.1, seed=5)
    opt2.load_state_dict(opt.state_dict())
    for k in ("n_plus", "n_minus", "gmax_plus", "gmax_minus"):
        assert torch.equal(opt2.state[v][k], opt.state[w][k])
    assert torch.allclose(opt2.device_weights()[0], w)
