import pytest
import torch

from plasticity.spiking.kernels import LIFSequence
from plasticity.spiking.layers import LIFLayer, run_lif
from plasticity.spiking.neurons import LIFParameters, lif_initial_state, lif_step
from plasticity.spiking.surrogate import SURROGATES, surrogate_grad, surrogate_grad_


def step_by_step(cur, p, state):
    out = []
    for x in cur.unbind(0):
        z, state = lif_step(x, state, p)
        out.append(z)
    return torch.stack(out), state


@pytest.mark.parametrize("tau_syn", [0.0, 5.0])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("leak_reset", [(0.0, 0.0), (0.2, -0.3)])
@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan"])
def test_fused_kernel_equals_step_by_step_values_and_gradients(tau_syn, reset, leak_reset, surrogate):
    torch.manual_seed(0)
    p = LIFParameters(tau_mem=10.0, tau_syn=tau_syn, reset=reset, v_leak=leak_reset[0], v_reset=leak_reset[1],
                      surrogate=surrogate)
    T, B, N = 30, 4, 6
    x = (torch.randn(T, B, N, dtype=torch.float64) * 3 + 1.5).requires_grad_()
    v0 = torch.randn(B, N, dtype=torch.float64).requires_grad_()
    i0 = torch.randn(B, N, dtype=torch.float64).requires_grad_()
    theta = torch.rand(B, N, dtype=torch.float64) * 0.3
    st0 = lif_initial_state((B, N), p, x)._replace(v=v0, i=i0, theta=theta)
    w, wv, wi = (torch.randn(T, B, N, dtype=torch.float64), torch.randn(B, N, dtype=torch.float64),
                 torch.randn(B, N, dtype=torch.float64))
    results = []
    for fused in (True, False):
        z, st = (run_lif(x * 1.0, p, state=st0, inplace=True)[::2] if fused else step_by_step(x, p, st0))
        loss = (z * w).sum() + (st.v * wv).sum() + (st.i * wi).sum()
        grads = torch.autograd.grad(loss, (x, v0, i0), allow_unused=True)
        results.append((z, st, grads))
    (z_f, st_f, g_f), (z_s, st_s, g_s) = results
    assert torch.equal(z_f, z_s)
    assert 0 < float(z_f.detach().mean()) < 1
    for a, b in zip(st_f, st_s, strict=True):
        assert torch.allclose(a, b, atol=1e-12)
    for a, b in zip(g_f, g_s, strict=True):
        if b is None:  # first order: the initial current does not matter
            assert a is None or float(a.abs().max()) == 0
        else:
            assert torch.allclose(a, b, atol=1e-10)


def test_layer_in_place_path_has_the_same_weight_gradient():
    torch.manual_seed(0)
    p = LIFParameters(tau_syn=0.0)
    layer = LIFLayer(5, 7, p).double()
    with torch.no_grad():
        layer.fc.weight.mul_(3)
    x = (torch.rand(20, 3, 5, dtype=torch.float64) < 0.5).double()
    z, _ = layer(x)   # fused, reusing the fc output's buffer
    z.sum().backward()
    g = layer.fc.weight.grad.clone()
    layer.zero_grad()
    st = lif_initial_state((3, 7), p, x)
    z2, _ = step_by_step(layer.fc(x), p, st)
    z2.sum().backward()
    assert torch.equal(z, z2)
    assert torch.allclose(g, layer.fc.weight.grad, atol=1e-12)


def test_no_grad_run_records_every_step():
    p = LIFParameters(tau_syn=5.0)
    cur = torch.rand(15, 2, 3) * 3
    with torch.no_grad():
        _, rec, final = run_lif(cur, p, record=True)
    st = lif_initial_state((2, 3), p, cur)
    for t, x in enumerate(cur.unbind(0)):
        _, st = lif_step(x, st, p)
        assert torch.allclose(rec.v[t], st.v, atol=1e-6) and torch.allclose(rec.i[t], st.i, atol=1e-6)
    assert torch.allclose(final.v, st.v, atol=1e-6)


def test_sequence_node_is_a_single_autograd_node():
    cur = torch.rand(50, 2, 3, requires_grad=True)
    z, _, _ = run_lif(cur * 1.0, LIFParameters(tau_syn=0.0))
    assert z.grad_fn is not None and type(z.grad_fn).__name__ == f"{LIFSequence.__name__}Backward"


@pytest.mark.parametrize("shape", SURROGATES)
def test_in_place_surrogate_equals_out_of_place(shape):
    x = torch.randn(1000, dtype=torch.float64)
    assert torch.allclose(surrogate_grad_(x.clone(), shape, 3.0), surrogate_grad(x, shape, 3.0), atol=1e-14)
