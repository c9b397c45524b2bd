from __future__ import annotations

import pytest
import torch

from plasticity.circuits.disinhibition import EIMicrocircuit, Relu, SoftReLU, single_synapse_curve
from plasticity.errors import ConfigError


def _crossings(x: torch.Tensor, y: torch.Tensor) -> list[tuple[float, int]]:
    """(x where y changes sign, direction) by linear interpolation."""
    out = []
    for i in range(len(y) - 1):
        if y[i] == 0 or torch.sign(y[i]) == torch.sign(y[i + 1]):
            continue
        x0 = x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i])
        out.append((float(x0), int(torch.sign(y[i + 1] - y[i]))))
    return out


def test_softrelu_inverse_and_derivative():
    f = SoftReLU(scale=1.3, sharpness=2.0, shift=0.5)
    u = torch.linspace(-3, 15, 200, dtype=torch.float64)
    torch.testing.assert_close(f.inv(f(u)), u, atol=1e-8, rtol=0)
    v = u.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(v).sum(), v)
    torch.testing.assert_close(f.deriv(u), g)
    r = Relu()
    assert torch.equal(r.deriv(torch.tensor([-1.0, 0.5])), torch.tensor([0.0, 1.0]))


def test_settled_bracket_equals_topdown_and_balanced_drive_is_open_loop_fixed_point():
    c = EIMicrocircuit(dt=0.05, steps=2000)
    a = torch.linspace(0.0, 6.0, 13, dtype=torch.float64)
    u_e, _ = c.settle(c.balanced_drive(a))
    torch.testing.assert_close(u_e, a, atol=1e-6, rtol=0)
    t = torch.linspace(-1.0, 1.0, 13, dtype=torch.float64)
    u_e, u_i = c.settle(c.balanced_drive(a), topdown=t)
    bracket = c.w_ei * c.act_e(u_e) - c.read_inhibition(c.act_i(u_i))
    torch.testing.assert_close(bracket, t, atol=1e-6, rtol=0)   # the E cell reads off the top-down signal


def test_single_synapse_curve_flips_sign_at_the_target_rate():
    c = EIMicrocircuit(alpha=5.0, steps=600, dt=0.02)
    drives = torch.linspace(0.0, 8.0, 121, dtype=torch.float64)
    for target in (1.0, 2.0):
        curve = single_synapse_curve(c, drives, target)
        r, dw = curve["rate_open"][1:], curve["dw"][1:]
        cross = _crossings(r, dw)
        assert len(cross) == 1 and cross[0][1] == -1               # LTP below the target, LTD above
        assert cross[0][0] == pytest.approx(target, rel=0.02)
        assert (dw[r < 0.8 * target] > 0).all() and (dw[r > 1.2 * target] < 0).all()
        # closed loop pulls the rate towards the target
        assert ((curve["rate"] - target).abs() <= (curve["rate_open"] - target).abs() + 1e-9).all()


def test_without_topdown_the_rule_is_silent_with_exact_inverse_and_bcm_like_with_linear():
    drives = torch.linspace(0.0, 8.0, 121, dtype=torch.float64)
    exact = single_synapse_curve(EIMicrocircuit(steps=600, dt=0.02), drives, None)
    with_target = single_synapse_curve(EIMicrocircuit(steps=600, dt=0.02), drives, 2.0)
    assert float(exact["dw"].abs().max()) < 1e-3 * float(with_target["dw"].abs().max())   # silent up to settling
    lin = single_synapse_curve(EIMicrocircuit(inverse="linear", theta=1.5, delta=1.5, steps=600, dt=0.02),
                               drives, None)
    r, dw = lin["rate_open"][1:], lin["dw"][1:]
    cross = _crossings(r, dw)
    assert len(cross) == 1 and cross[0][1] == +1                   # LTD at low rates, LTP at high rates (BCM)
    th = cross[0][0]
    assert 0 < th < float(r.max())
    assert (dw[(r > 0.05) & (r < 0.8 * th)] < 0).all() and (dw[r > 1.2 * th] > 0).all()


def test_curve_is_elementwise_over_batches():
    c = EIMicrocircuit(steps=300, dt=0.04)
    d = torch.rand(4, 5, dtype=torch.float64) * 6
    dw, rate = c.weight_change(torch.ones_like(d), d, 1.5)
    dw1, rate1 = c.weight_change(torch.ones(1, dtype=torch.float64), d[2, 3:4], 1.5)
    torch.testing.assert_close(dw[2, 3:4], dw1)
    torch.testing.assert_close(rate[2, 3:4], rate1)


@pytest.mark.parametrize("kwargs", [{"inverse": "cubic"}, {"dt": 0.0}, {"steps": 0}, {"tau_i": -1.0},
                                    {"alpha": -0.1}])
def test_bad_config_raises(kwargs):
    with pytest.raises(ConfigError):
        EIMicrocircuit(**kwargs)
