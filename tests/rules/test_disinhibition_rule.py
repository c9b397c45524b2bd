from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from plasticity.analysis import update_alignment
from plasticity.circuits.disinhibition import EISteadyState, ei_mlp
from plasticity.errors import ConfigError
from plasticity.models.mlp import MLP
from plasticity.rules import make_rule
from plasticity.rules.backprop import Backprop
from plasticity.rules.dfa import DirectFeedbackAlignment
from plasticity.rules.disinhibition import Disinhibition


def _batch(n: int = 32, d: int = 6, k: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


# -- closed loop (default, the paper's mechanism) ---------------------------------------------------------------

@pytest.mark.parametrize("build", [lambda: ei_mlp([6, 16, 12, 3]), lambda: MLP([6, 16, 12, 3])])
def test_closed_loop_is_the_default_and_fills_every_gradient(build):
    torch.manual_seed(0)
    model = build()
    rule = make_rule("disinhibition", seed=1)
    assert rule.variant == "closed-loop" and rule.dale
    x, y = _batch()
    rep = rule.step(model, x, y)
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert rep.metrics["settle_residual"] < 1e-3 and rep.metrics["error_reduction"] < 1.0
    assert rep.loss.ndim == 0 and rep.output.shape == (32, 3)
    with torch.no_grad():
        torch.testing.assert_close(rep.output, model(x))           # the output is the open-loop pass


def test_ei_mlp_forward_is_the_open_loop_state_of_the_circuit():
    model = ei_mlp([6, 10, 3])
    assert isinstance(model.act, EISteadyState)
    x, _ = _batch(8)
    a = model.layers[0](x)
    u = model.act.potential(a)
    torch.testing.assert_close(u + model.act.act_i(model.act.act_e(u)), a, atol=1e-5, rtol=0)


@pytest.mark.parametrize("dale", [True, False])
def test_closed_loop_updates_align_with_backprop_far_better_than_dfa(dale):
    torch.manual_seed(0)
    model = ei_mlp([6, 32, 32, 3]) if dale else MLP([6, 32, 32, 3], activation="tanh")
    x, y = _batch(64)
    cl = update_alignment(model, Disinhibition(seed=0, dale=dale), x, y)
    dfa = update_alignment(model, DirectFeedbackAlignment(seed=0), x, y)
    for name in ("layers.0", "layers.1"):
        assert cl[name] < 30.0 < dfa[name]


def test_weak_control_without_normalisation_follows_the_gradient():
    """Non-Dale closed loop, tiny controller gain, raw Jacobian: the update is the backprop gradient (x gain)."""
    torch.manual_seed(0)
    model = MLP([6, 20, 3], activation="tanh").double()
    x, y = _batch(16)
    rule = Disinhibition(dale=False, k_p=1e-4, k_i=1e-4, tau=0.02, fb_norm=0.0, soft_target=0.999999, tol=1e-7)
    angles = update_alignment(model, rule, x.double(), y)
    assert max(angles.values()) < 2.0


def test_other_inverses_and_feedbacks_run():
    x, y = _batch()
    for kw in ({"inverse": "lin-thresh"}, {"inverse": "taylor"}, {"feedback": "mean-jacobian"}, {"fb_norm": 0.0}):
        model = ei_mlp([6, 12, 3])
        Disinhibition(**kw).step(model, x, y)
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_closed_loop_steps_lower_the_loss():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ei_mlp([6, 24, 3])
    x, y = _batch(64)
    rule = Disinhibition(seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    first = rule.step(model, x, y).loss_value
    opt.step()
    for _ in range(15):
        rule.step(model, x, y)
        opt.step()
    assert rule.step(model, x, y).loss_value < first - 0.05


# -- the earlier open-loop variant -------------------------------------------------------------------------------

def _open(**kw) -> Disinhibition:
    return Disinhibition(variant="open-loop", **kw)


def test_open_loop_readout_gets_the_delta_rule():
    x, y = _batch()
    model = MLP([6, 16, 12, 3])
    rep = _open(seed=1).step(model, x, y)
    last = model.layers[-1]
    w, b = last.weight.grad.clone(), last.bias.grad.clone()
    Backprop().step(model, x, y)
    torch.testing.assert_close(w, last.weight.grad)
    torch.testing.assert_close(b, last.bias.grad)
    assert 0.0 <= rep.metrics["ltp_fraction"] <= 1.0 and rep.metrics["topdown_rms"] > 0


def test_open_loop_hidden_update_is_dfa_through_the_circuit():
    """The settled bracket equals t = -gain e B (exact inverse): the update is -(t f'(a))^T x / batch."""
    x, y = _batch(64)
    model = MLP([6, 20, 3]).double()
    rule = _open(seed=3, gain=0.05, steps=400, settle_dt=0.05)
    rule.step(model, x.double(), y)
    with torch.no_grad():
        a = model.layers[0](x.double())
        e = torch.softmax(model(x.double()), 1) - F.one_hot(y, 3).double()
        t = -0.05 * e @ rule.buffers["B.layers.0"]
        expected = -((t * (a > 0)).t() @ x.double()) / x.shape[0]
    got = model.layers[0].weight.grad
    assert float((got * expected).sum() / (got.norm() * expected.norm())) > 0.99


def test_open_loop_state_roundtrip_and_tanh():
    x, y = _batch()
    model = MLP([6, 10, 3], activation="tanh")
    rule = _open(seed=5)
    rule.step(model, x, y)
    assert model.layers[0].weight.grad.abs().sum() > 0
    other = _open(seed=99)
    other.prepare(model)
    other.load_state_dict(rule.state_dict())
    torch.testing.assert_close(other.buffers["B.layers.0"], rule.buffers["B.layers.0"])


# -- bad input ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,key", [({"k_p": 0.0}, "k_p"), ({"k_i": -0.1}, "k_i"), ({"variant": "dfa"}, "variant"),
                                    ({"inverse": "cubic"}, "inverse"), ({"feedback": "random"}, "feedback"),
                                    ({"dt": 0.05}, "dt"), ({"gain": 0.0}, "gain"),
                                    ({"variant": "open-loop", "inverse": "lin-thresh"}, "inverse")])
def test_bad_arguments_raise_one_line_errors(kw, key):
    with pytest.raises(ConfigError, match=key) as err:
        Disinhibition(**kw)
    assert "\n" not in str(err.value) and "allowed" in str(err.value)


def test_needs_two_linear_layers():
    with pytest.raises(ConfigError, match=r"two nn\.Linear"):
        Disinhibition().step(MLP([6, 3]), *_batch())
