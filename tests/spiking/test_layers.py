import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.spiking.layers import (
    LIFCell,
    LIFLayer,
    LIReadout,
    RecurrentLIFLayer,
    SpikingMLP,
    run_lif,
    state_at,
)
from plasticity.spiking.neurons import LIFParameters, LIFState

PARAMS = [LIFParameters(tau_syn=0.0), LIFParameters(tau_syn=5.0, reset="subtract"),
          LIFParameters(tau_syn=0.0, t_ref=2.0, v_leak=0.1, v_reset=-0.2)]


def _drive(T=40, B=3, n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, n, generator=g) < 0.4).double() * 2


@pytest.mark.parametrize("p", PARAMS)
@pytest.mark.parametrize("kind", [LIFLayer, RecurrentLIFLayer])
def test_two_chunks_with_carried_state_equal_one_run(p, kind):
    torch.manual_seed(0)
    layer = kind(5, 7, p).double()
    x = _drive()
    z_all, s_all = layer(x)
    z1, s1 = layer(x[:17])
    z2, s2 = layer(x[17:], s1)
    assert torch.equal(torch.cat([z1, z2]), z_all)
    for a, b in zip(s2, s_all, strict=True):
        assert torch.allclose(a, b, atol=1e-12)


def test_readout_streams_too():
    torch.manual_seed(0)
    ro = LIReadout(5, 3).double()
    x = _drive()
    v_all, _ = ro(x)
    v1, s1 = ro(x[:9])
    v2, _ = ro(x[9:], s1)
    assert torch.allclose(torch.cat([v1, v2]), v_all, atol=1e-12)


def test_truncated_bptt_cuts_the_graph_at_detached_state():
    torch.manual_seed(0)
    layer = LIFLayer(5, 7)
    x = _drive().float()
    _, s1 = layer(x[:20])
    z2, _ = layer(x[20:], s1.detach())
    z2.sum().backward()  # only the second chunk's graph: no error, gradients reach the weights
    assert layer.fc.weight.grad is not None and layer.fc.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", [LIFLayer, RecurrentLIFLayer])
def test_record_keeps_the_return_type(kind):
    torch.manual_seed(0)
    layer = kind(5, 7, LIFParameters(tau_syn=5.0))
    x = _drive().float()
    z, final = layer(x)
    z_r, rec = layer(x, record=True)
    assert isinstance(final, LIFState) and isinstance(rec, LIFState)
    assert torch.equal(z, z_r)
    assert all(f.shape == (40, 3, 7) for f in rec)
    for a, b in zip(state_at(rec, -1), final, strict=True):
        assert torch.allclose(a, b)
    assert torch.equal(rec.z, z)


def test_record_with_gradients_uses_the_step_path():
    layer = LIFLayer(5, 7)
    z, rec = layer(_drive().float(), record=True)
    (z.sum() + rec.v.sum()).backward()
    assert layer.fc.weight.grad is not None


def test_state_of_wrong_shape_is_one_line_error():
    layer = LIFLayer(5, 7)
    x = _drive().float()
    _, s = layer(x)
    with pytest.raises(ConfigError, match=r"state\.v has shape \(3, 7\); expected \(2, 7\)"):
        layer(x[:, :2], s)
    with pytest.raises(ConfigError, match="state"):
        layer(x, state_at(layer(x, record=True)[1], slice(None)))  # a recorded [T, B, N] state
    with pytest.raises(ConfigError, match="state must be a LIFState"):
        layer(x, (s.v, s.i))
    cell = LIFCell(7)
    with pytest.raises(ConfigError, match=r"state\.v"):
        cell(torch.rand(3, 7), s._replace(v=torch.zeros(3, 6)))


def test_learnable_time_constants_and_threshold_get_gradients():
    torch.manual_seed(0)
    layer = LIFLayer(5, 7, LIFParameters(tau_syn=5.0), learn=("tau_mem", "tau_syn", "v_th"))
    with torch.no_grad():
        layer.fc.weight.mul_(4)
    z, _ = layer(_drive().float())
    z.sum().backward()
    for name in ("log_tau_mem", "log_tau_syn", "v_th"):
        g = getattr(layer, name).grad
        assert g is not None and g.shape == (7,) and g.abs().sum() > 0
    fixed = LIFLayer(5, 7, LIFParameters(tau_syn=5.0))
    with torch.no_grad():
        fixed.fc.weight.copy_(layer.fc.weight)
    assert torch.equal(fixed(_drive().float())[0], z)  # at their initial values: the same network


def test_learn_options_are_checked():
    with pytest.raises(ConfigError, match="learn"):
        LIFLayer(3, 4, learn=("beta",))
    with pytest.raises(ConfigError, match="tau_syn"):
        LIFLayer(3, 4, LIFParameters(tau_syn=0.0), learn=("tau_syn",))


def test_run_lif_recurrent_step_path_is_linear_in_time_graph():
    # unbind: each step's backward writes only its own slice; check correctness of the gradient here
    torch.manual_seed(0)
    cur = (torch.rand(12, 2, 4, dtype=torch.float64) * 3).requires_grad_()
    w = torch.randn(4, 4, dtype=torch.float64) * 0.3
    z, _, _ = run_lif(cur, LIFParameters(tau_syn=0.0), w)
    (z * torch.arange(12.0, dtype=torch.float64).view(-1, 1, 1)).sum().backward()
    assert cur.grad.shape == cur.shape and torch.isfinite(cur.grad).all()


def test_spiking_mlp_still_classifies_shapes():
    m = SpikingMLP([6, 8, 3], n_steps=5)
    assert m(torch.rand(4, 6)).shape == (4, 3)


@pytest.mark.slow
def test_compiled_path_matches_eager():
    torch.manual_seed(0)
    p = LIFParameters(tau_syn=5.0, reset="subtract")
    eager = LIFLayer(5, 7, p)
    comp = LIFLayer(5, 7, p, compile=True)
    comp.load_state_dict(eager.state_dict())
    x = _drive(T=10).float()
    with torch.no_grad():  # forward only: one compile without the backward graph keeps this test short
        z_e, s_e = eager(x)
        z_c, s_c = comp(x)
    assert torch.equal(z_e, z_c)
    assert torch.allclose(s_e.v, s_c.v, atol=1e-6)


def test_readout_has_no_threshold_to_learn():
    with pytest.raises(ConfigError, match="v_th"):
        LIReadout(3, 2, learn=("v_th",))
    ro = LIReadout(3, 2, learn=("tau_mem",))
    v, _ = ro(torch.rand(5, 1, 3))
    v.sum().backward()
    assert ro.log_tau_mem.grad is not None


@pytest.mark.parametrize("rule", ["fa", "sign", "dfa", "bp"])
def test_lif_layer_trains_under_feedback_rules(rule: str) -> None:
    """The fused kernel must not overwrite a feedback rule's custom linear output in place."""
    import plasticity as P

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l1, self.out = LIFLayer(8, 16), torch.nn.Linear(16, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z, _ = self.l1(x.unsqueeze(0).expand(5, -1, -1))
            return self.out(z.mean(0))

    net = Net()
    r = P.make_rule(rule)
    r.prepare(net)
    r.step(net, torch.rand(4, 8), torch.tensor([0, 1, 2, 0]))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
