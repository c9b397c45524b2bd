from __future__ import annotations

import itertools

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


# -- closed-loop network (reference fmi-basel/disinhibitory-control) ------------------------------------------

def _net(dale: bool = True, balanced: bool = False, sizes=(6, 9, 7, 3), seed: int = 0, **kw):
    from plasticity.circuits.disinhibition import ClosedLoopNetwork, LeakyPI

    g = torch.Generator().manual_seed(seed)
    params = [(torch.randn(b, a, generator=g, dtype=torch.float64) / a**0.5,
               0.1 * torch.randn(b, generator=g, dtype=torch.float64)) for a, b in itertools.pairwise(sizes)]
    act = SoftReLU(shift=0.0)
    return ClosedLoopNetwork(params, act, act, controller=kw.pop("controller", LeakyPI()), dale=dale,
                             balanced=balanced, **kw)


def _batch(n=5, d=6, k=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    t = torch.nn.functional.one_hot(torch.randint(0, k, (n,), generator=g), k).double() * 0.99 + 0.0033
    return x, t


def test_leaky_pi_rejects_non_positive_gains():
    from plasticity.circuits.disinhibition import LeakyPI

    for kw, key in (({"k_p": 0.0}, "k_p"), ({"k_i": -1.0}, "k_i"), ({"tau": 0.0}, "tau"), ({"leak": -0.5}, "leak")):
        with pytest.raises(ConfigError, match=key):
            LeakyPI(**kw)
    c = LeakyPI(k_p=0.2, k_i=0.4, leak=1.0, tau=0.1)
    e = torch.tensor([1.0])
    assert float(c.derivative(e, e)) == 0.0 and float(c.control(e, e)) == pytest.approx(0.6)


def test_ei_steady_state_is_the_open_loop_fixed_point_with_the_implicit_derivative():
    from plasticity.circuits.disinhibition import EISteadyState

    f = EISteadyState()
    d = torch.linspace(-4, 8, 25, dtype=torch.float64, requires_grad=True)
    u = f.potential(d)
    torch.testing.assert_close(u + f.act_i(f.act_e(u)), d, atol=1e-9, rtol=0)
    (g,) = torch.autograd.grad(f(d).sum(), d)
    ud = u.detach()
    expected = f.act_e.deriv(ud) / (1 + f.act_i.deriv(f.act_e(ud)) * f.act_e.deriv(ud))
    torch.testing.assert_close(g, expected, atol=1e-9, rtol=0)
    # the ODE started at rest relaxes to the same state: Euler on the whole network without feedback
    from plasticity.circuits.disinhibition import ClosedLoopState, LeakyPI

    net = _net(controller=LeakyPI(k_p=1e-12, k_i=1e-12))
    x, t = _batch()
    ol = net.open_loop(x)
    zeros = [torch.zeros(x.shape[0], 3, u.shape[1], dtype=torch.float64) for u in ol.u_e]
    rest = ClosedLoopState([torch.zeros_like(u) for u in ol.u_e], [torch.zeros_like(u) for u in ol.u_i],
                           torch.zeros_like(ol.y), torch.zeros_like(ol.y))
    net.t_max, net.tol = 1.5, 1e-9
    cl = net.settle(x, t, zeros, rest)
    for a, b in zip([*cl.u_e, cl.y], [*ol.u_e, ol.y], strict=False):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dale", [True, False])
def test_jacobian_feedback_matches_autograd(dale):
    net = _net(dale=dale)
    x, _ = _batch(n=2)
    ol = net.open_loop(x)
    fb = net.feedback_weights(ol, "jacobian", norm=0.0)
    for i in range(x.shape[0]):
        for layer in range(net.n_hidden):
            def out(u, i=i, layer=layer):
                # downstream potentials move one-for-one with their drives (the reference's linearisation)
                h = net.act_e(u)
                for k in range(layer + 1, net.n_hidden):
                    a_star = net._linear(net.act_e(ol.u_e[k - 1][i:i + 1]), net.params[k])
                    h = net.act_e(ol.u_e[k][i:i + 1] + net._linear(h, net.params[k]) - a_star)
                return net._linear(h, net.params[-1])
            jac = torch.autograd.functional.jacobian(out, ol.u_e[layer][i:i + 1]).squeeze(2).squeeze(0)
            if dale:           # the reference's Jacobian ignores the E-I loop and weights columns by f_I'(u_I)
                jac = jac * net.act_i.deriv(ol.u_i[layer][i])
            torch.testing.assert_close(fb[layer][i], jac, atol=1e-10, rtol=1e-8)
    normed = net.feedback_weights(ol, "jacobian", norm=1.0)
    assert torch.allclose(normed[0].flatten(1).norm(dim=1), torch.ones(2, dtype=torch.float64))
    mean = net.feedback_weights(ol, "mean-jacobian", norm=0.0)
    torch.testing.assert_close(mean[1][0], fb[1].mean(0))


@pytest.mark.parametrize("dale", [True, False])
def test_at_the_controlled_rest_state_the_hebbian_error_is_the_topdown_input(dale):
    """By construction of the fixed point: exact-inverse bracket = −(B c) f_E'(u_E); readout error = −c."""
    from plasticity.circuits.disinhibition import LeakyPI

    net = _net(dale=dale, tol=1e-10, t_max=5.0, dt=4e-3, controller=LeakyPI(tau=0.02))
    x, t = _batch()
    ol = net.open_loop(x)
    fb = net.feedback_weights(ol)
    cl = net.settle(x, t, fb, ol)
    assert cl.residual < 1e-10
    c = net.controller.control(net.error(cl.y, t, "cross_entropy"), cl.c_int)
    errs = net.hidden_errors(x, cl, "exact")
    for layer, e in enumerate(errs):
        top = torch.bmm(c.unsqueeze(1), fb[layer]).squeeze(1)
        expected = -top * net.act_e.deriv(cl.u_e[layer]) if dale else -top
        torch.testing.assert_close(e, expected, atol=1e-8, rtol=0)
    grads = net.gradients(x, cl, errs)
    h = net.act_e(cl.u_e[-1])
    torch.testing.assert_close(grads[-1][0], -(c.t() @ h) / x.shape[0], atol=1e-8, rtol=0)
    # the controller pulls the output towards the target
    e_ol, e_cl = net.error(ol.y, t, "cross_entropy"), net.error(cl.y, t, "cross_entropy")
    assert float(e_cl.norm()) < float(e_ol.norm())


def test_rest_state_does_not_depend_on_the_euler_step():
    x, t = _batch()
    grads = []
    from plasticity.circuits.disinhibition import LeakyPI

    for dt in (1e-3, 4e-3):
        net = _net(dt=dt, tol=1e-9, t_max=5.0, controller=LeakyPI(tau=0.02))
        ol = net.open_loop(x)
        cl = net.settle(x, t, net.feedback_weights(ol), ol)
        grads.append(net.gradients(x, cl, net.hidden_errors(x, cl)))
    for (a, _), (b, _) in zip(*grads, strict=False):
        torch.testing.assert_close(a, b, atol=1e-7, rtol=1e-6)


def test_linear_readings_of_inhibition_are_tangent_to_the_exact_inverse():
    net = _net(tol=1e-3)
    x, t = _batch()
    ol = net.open_loop(x)
    cl = net.settle(x, t, net.feedback_weights(ol), ol)
    y0 = [net.act_i(u) for u in cl.u_i]             # expanding at the very rates read gives the exact value
    for a, b in zip(net.hidden_errors(x, cl, "lin-thresh", y0), net.hidden_errors(x, cl, "exact"), strict=False):
        torch.testing.assert_close(a, b, atol=1e-8, rtol=0)
    far = net.hidden_errors(x, cl, "taylor", 5.0)
    assert not torch.allclose(far[0], net.hidden_errors(x, cl, "exact")[0])


def test_closed_loop_rejects_bad_settings():
    from plasticity.circuits.disinhibition import LeakyPI

    with pytest.raises(ConfigError, match="dt"):
        _net(dt=0.01)                                     # above tau_i = 5 ms: Euler would be unstable
    with pytest.raises(ConfigError, match="feedback"):
        net = _net()
        net.feedback_weights(net.open_loop(_batch()[0]), "random")
    with pytest.raises(ConfigError, match="inverse"):
        net = _net()
        net.hidden_errors(_batch()[0], net.open_loop(_batch()[0]), "cubic")
    assert LeakyPI().k_p == 0.2
