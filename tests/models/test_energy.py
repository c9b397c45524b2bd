"""EnergyMLP / EnergyConvNet: the drive is the primitive's gradient, relaxation converges, complex states work."""

from __future__ import annotations

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.models.energy import ENERGY_ACTIVATIONS, EnergyConvNet, EnergyMLP, EnergyNet, holo_cost


def _holo_grad_of_primitive(model, x, s):
    leaves = [t.detach().clone().requires_grad_(True) for t in s]
    phi = model.primitive(x.to(s[0].dtype), leaves).sum()
    grads = torch.autograd.grad(phi, leaves, grad_outputs=torch.ones_like(phi))
    return [g.conj() if g.is_complex() else g for g in grads]


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_drive_is_gradient_of_primitive(dtype):
    m = EnergyMLP([5, 4, 3, 2], T1=5)
    x = torch.rand(3, 5)
    s = [torch.randn(3, 4).to(dtype), torch.randn(3, 3).to(dtype)]
    drive = m.drive(x.to(dtype), s)
    for a, b in zip(drive, _holo_grad_of_primitive(m, x, s), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_relaxation_converges_and_updates_agree():
    x = torch.rand(8, 6)
    alt = EnergyMLP([6, 5, 4, 3], T1=200, update="alternate")
    sync = EnergyMLP([6, 5, 4, 3], T1=200, update="sync")
    sync.load_state_dict(alt.state_dict())
    sa, ss = alt.relax(x), sync.relax(x)
    assert float(alt.residual(x, sa).max()) < 1e-5
    for a, b in zip(sa, ss, strict=True):  # same fixed point, reached by two schedules
        assert torch.allclose(a, b, atol=1e-4)


def test_forward_is_differentiable_bptt():
    m = EnergyMLP([6, 5, 4, 3], T1=10)
    out = m(torch.rand(4, 6))
    assert out.shape == (4, 3)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def test_complex_activation_matches_real_and_is_stable():
    z = torch.linspace(-200, 200, 41)
    for name, f in ENERGY_ACTIVATIONS.items():
        if name in ("tanh", "identity"):
            continue
        zc = f(z.to(torch.complex64))
        assert torch.isfinite(zc.real).all() and torch.isfinite(zc.imag).all(), name
        assert torch.allclose(zc.real, f(z), atol=1e-4), name


def test_holo_cost_matches_cross_entropy_and_mse():
    z, y = torch.randn(5, 4), torch.randint(0, 4, (5,))
    c, err = holo_cost(z, y)
    assert torch.allclose(c, torch.nn.functional.cross_entropy(z, y, reduction="none"), atol=1e-5)
    assert torch.allclose(err, torch.softmax(z, 1) - torch.nn.functional.one_hot(y, 4), atol=1e-6)
    t = torch.randn(5, 4)
    c, err = holo_cost(z, t)
    assert torch.allclose(c, 0.5 * ((z - t) ** 2).sum(1))


def test_noise_only_in_training_mode():
    m = EnergyMLP([6, 5, 4, 3], T1=5, sigma=0.1)
    x = torch.rand(4, 6)
    m.train()
    a, b = m.relax(x), m.relax(x)
    assert not torch.allclose(a[0], b[0])
    m.eval()
    a, b = m.relax(x), m.relax(x)
    assert torch.equal(a[0], b[0])


def test_independent_feedback_has_no_energy_and_asymmetric_jacobian():
    m = EnergyMLP([6, 5, 4, 3], feedback="independent")
    assert m.feedback is not None and not m.symmetric
    x = torch.rand(2, 6)
    with pytest.raises(ConfigError, match="symmetric"):
        m.energy(x, m.relax(x))
    s = m.relax(x)
    v = [torch.randn_like(t) for t in s]
    # explicit J v equals the generic forward-mode one of the base class
    for a, b in zip(m.jacobian_vector(x, s, v), EnergyNet.jacobian_vector(m, x, s, v), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"activation": "nope"}, {"feedback": "random"}, {"update": "async"},
                                    {"T1": 0}, {"sigma": -1.0}])
def test_bad_arguments_name_the_key(kwargs):
    key = next(iter(kwargs))
    with pytest.raises(ConfigError, match=key):
        EnergyMLP([4, 3, 2], **kwargs)


def test_sizes_and_input_validation():
    with pytest.raises(ConfigError, match="sizes"):
        EnergyMLP([4, 2])
    with pytest.raises(ConfigError, match="sizes\\[0\\]"):
        EnergyMLP([4, 3, 2])(torch.rand(2, 5))


def test_conv_net_relaxes_real_and_complex():
    m = EnergyConvNet((1, 8, 8), channels=(3, 4), n_classes=5, T1=20)
    x = torch.rand(2, 1, 8, 8)
    s = m.relax(x)
    assert [tuple(t.shape) for t in s] == [(2, 3, 4, 4), (2, 4, 2, 2)]
    assert m(x).shape == (2, 5)
    y = torch.tensor([1, 3])
    sc = m.relax(x, y, beta=0.3j, steps=5, s0=s)
    assert sc[0].is_complex() and torch.isfinite(sc[-1].real).all()
    # the explicit drive is the primitive's gradient (finite difference of Phi, in double precision) ...
    m.double()
    x, s = x.double(), [t.detach().double() for t in s]
    v = [torch.randn_like(t) for t in s]
    eps = 1e-5
    xs = m.prepare_input(x)
    fd = (m.primitive(xs, [a + eps * b for a, b in zip(s, v, strict=True)]) -
          m.primitive(xs, [a - eps * b for a, b in zip(s, v, strict=True)])) / (2 * eps)
    dd = sum((g * b).flatten(1).sum(1) for g, b in zip(m.drive(xs, s), v, strict=True))
    assert torch.allclose(fd, dd, rtol=1e-6, atol=1e-8)
    # ... also for complex states and an odd spatial size (pooling drops the last row/column)
    m2 = EnergyConvNet((1, 7, 7), channels=(3, 4), n_classes=5, T1=5)
    x2 = torch.rand(2, 1, 7, 7)
    s2 = [torch.randn(2, 3, 3, 3, dtype=torch.complex64), torch.randn(2, 4, 1, 1, dtype=torch.complex64)]
    for a, b in zip(m2.drive(x2.to(torch.complex64), s2), _holo_grad_of_primitive(m2, x2, s2), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_dynamic_output_shapes_and_parameters():
    m = EnergyMLP([6, 5, 4, 3], output="dynamic", feedback="independent")
    x = torch.rand(7, 6)
    s = m.relax(x)
    assert [t.shape for t in s] == [torch.Size([7, 5]), torch.Size([7, 4]), torch.Size([7, 3])]
    assert len(m.layers) == 3 and m.layers[-1].weight.shape == (3, 4)
    assert m.readout.weight.shape == (3, 3)  # the softmax readout reads the output state
    assert [f.weight.shape for f in m.feedback] == [(5, 4), (4, 3)]  # output -> last hidden has its own matrix
    assert m(x).shape == (7, 3)
    static = EnergyMLP([6, 5, 4, 3])
    assert static.output == "static" and [t.shape[1] for t in static.relax(x)] == [5, 4]


def test_dynamic_output_symmetric_energy_gradient_is_the_drive():
    torch.manual_seed(0)
    m = EnergyMLP([6, 5, 4, 3], output="dynamic", T1=300).double()
    x, y = torch.rand(4, 6, dtype=torch.float64), torch.tensor([0, 2, 1, 2])
    s = [torch.rand(4, n, dtype=torch.float64) for n in (5, 4, 3)]
    drive = m.drive(x, s)
    for a, b in zip(drive, _holo_grad_of_primitive(m, x, s), strict=True):
        assert torch.allclose(a, b, atol=1e-12)
    beta = 0.3
    leaves = [t.clone().requires_grad_(True) for t in s]
    grads = torch.autograd.grad(m.energy(x, leaves, y, beta).sum(), leaves)
    nudge = m.nudge(s, y)
    assert all(float(g.abs().max()) == 0.0 for g in nudge[:-1])  # the nudge enters the output layer only
    assert float(nudge[-1].abs().max()) > 0
    for g, a, n in zip(grads, drive, nudge, strict=True):  # dE/ds = -(G - beta dC/ds)
        assert torch.allclose(g, -(a - beta * n), atol=1e-12)
    s_free = m.relax(x)
    assert float(m.residual(x, s_free).max()) < 1e-8


def test_dynamic_output_independent_jacobian_matches_forward_mode():
    m = EnergyMLP([6, 5, 4, 3], output="dynamic", feedback="independent").double()
    x = torch.rand(2, 6, dtype=torch.float64)
    s = m.relax(x)
    v = [torch.randn_like(t) for t in s]
    for a, b in zip(m.jacobian_vector(x, s, v), EnergyNet.jacobian_vector(m, x, s, v), strict=True):
        assert torch.allclose(a, b, atol=1e-12)


def test_dynamic_output_ep_gradient_matches_bptt():
    from plasticity.analysis.ep_gradcheck import ep_gradient_check
    from plasticity.rules.ep import EquilibriumPropagation

    torch.manual_seed(1)
    m = EnergyMLP([6, 5, 4, 3], output="dynamic", T1=150, T2=100).double()
    x, y = torch.rand(8, 6, dtype=torch.float64), torch.randint(0, 3, (8,))
    cos = ep_gradient_check(EquilibriumPropagation(0.05, "holomorphic", 6), m, x, y, bptt_steps=150)
    assert min(cos.values()) > 0.999


def test_bad_output_kind_names_the_key():
    with pytest.raises(ConfigError, match="output"):
        EnergyMLP([4, 3, 2], output="recurrent")
