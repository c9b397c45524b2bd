from __future__ import annotations

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.models.mlp import MLP
from plasticity.rules.backprop import Backprop
from plasticity.rules.curl import Curl
from plasticity.rules.feedback import FeedbackAlignment


def _setup(sizes=(5, 12, 9, 2), seed: int = 0) -> tuple[MLP, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = MLP(list(sizes))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, sizes[0], generator=g)
    y = torch.randn(16, sizes[-1], generator=g)
    return model, x, y


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("base", ["bp", "fa"])
@pytest.mark.parametrize("side", ["outgoing", "incoming", "both"])
def test_fraction_zero_equals_the_plain_rule_exactly(base, side):
    model, x, y = _setup()
    plain = Backprop() if base == "bp" else FeedbackAlignment(seed=4)
    rep = plain.step(model, x, y)
    want = _grads(model)
    plain.remove()
    wrapped = Curl(base, fraction=0.0, side=side, **({} if base == "bp" else {"seed": 4}))
    rep2 = wrapped.step(model, x, y)
    for n, g in _grads(model).items():
        assert torch.equal(g, want[n]), n
    assert torch.equal(rep.loss, rep2.loss)


@pytest.mark.parametrize("side", ["outgoing", "incoming", "both"])
def test_flipped_neurons_get_the_opposite_update(side):
    model, x, y = _setup()
    Backprop().step(model, x, y)
    want = _grads(model)
    rule = Curl("bp", fraction=0.5, side=side, seed=2)
    rule.step(model, x, y)
    got = _grads(model)
    for i, name in enumerate(["layers.0", "layers.1"]):
        flip = rule.flipped(name)
        assert int(flip.sum()) == round(0.5 * flip.numel())
        s = torch.where(flip, -1.0, 1.0)
        w_in, b_in, w_out = f"{name}.weight", f"{name}.bias", f"layers.{i + 1}.weight"
        if side in ("incoming", "both"):
            torch.testing.assert_close(got[w_in], want[w_in] * s[:, None] * _out_sign(rule, i, side, w_in))
            torch.testing.assert_close(got[b_in], want[b_in] * s)
        if side in ("outgoing", "both"):
            torch.testing.assert_close(got[w_out], want[w_out] * s[None, :] * _in_sign(rule, i, side))
    if side == "outgoing":                                       # first layer untouched
        assert torch.equal(got["layers.0.weight"], want["layers.0.weight"])
    if side == "incoming":                                       # readout untouched
        assert torch.equal(got["layers.2.weight"], want["layers.2.weight"])


def _out_sign(rule: Curl, i: int, side: str, key: str) -> torch.Tensor:
    """With side='both' a hidden layer's incoming weights are also the previous hidden layer's outgoing ones."""
    if side == "both" and i > 0:
        return torch.where(rule.flipped(f"layers.{i - 1}"), -1.0, 1.0)[None, :]
    return torch.ones(1)


def _in_sign(rule: Curl, i: int, side: str) -> torch.Tensor:
    if side == "both" and i + 1 < 2:
        return torch.where(rule.flipped(f"layers.{i + 1}"), -1.0, 1.0)[:, None]
    return torch.ones(1)


@pytest.mark.parametrize("neurons", ["input", "all"])
def test_input_units_flip_their_outgoing_synapses(neurons):
    model, x, y = _setup()
    Backprop().step(model, x, y)
    want = _grads(model)
    rule = Curl("bp", fraction=0.4, neurons=neurons, seed=3)
    rule.step(model, x, y)
    got = _grads(model)
    s_in = torch.where(rule.flipped("input"), -1.0, 1.0)
    assert int(rule.flipped("input").sum()) == 2                  # round(0.4 * 5)
    torch.testing.assert_close(got["layers.0.weight"], want["layers.0.weight"] * s_in[None, :])  # side=outgoing
    torch.testing.assert_close(got["layers.0.bias"], want["layers.0.bias"])
    if neurons == "input":
        for k in ("layers.1.weight", "layers.2.weight"):
            assert torch.equal(got[k], want[k])
    else:
        s_h = torch.where(rule.flipped("layers.0"), -1.0, 1.0)
        torch.testing.assert_close(got["layers.1.weight"],
                                   want["layers.1.weight"] * s_h[None, :])


def test_masks_are_seeded_state():
    model, _, _ = _setup()
    a, b, c = Curl(fraction=0.3, seed=1), Curl(fraction=0.3, seed=1), Curl(fraction=0.3, seed=2)
    for r in (a, b, c):
        r.prepare(model)
    assert torch.equal(a.flipped("layers.0"), b.flipped("layers.0"))
    assert not torch.equal(a.flipped("layers.0"), c.flipped("layers.0"))
    c.load_state_dict(a.state_dict())
    assert torch.equal(a.flipped("layers.0"), c.flipped("layers.0"))
    assert a.state_dict()["params"]["fraction"] == 0.3 and a.state_dict()["params"]["side"] == "outgoing"


def _update_field(model: MLP, rule: Curl, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    rule.step(model, x, y)
    return torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("fraction,symmetric", [(0.0, True), (0.5, False)])
def test_flips_make_the_learning_flow_non_gradient(fraction, symmetric):
    """The Jacobian of the update field is the (symmetric) Hessian for a gradient flow; flips add curl."""
    torch.manual_seed(0)
    model = MLP([3, 4, 1], activation="tanh", bias=False).double()
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 1, dtype=torch.float64)
    rule = Curl("bp", fraction=fraction, side="outgoing", seed=0)
    theta0 = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    eps, n = 1e-6, theta0.numel()
    cols = []
    for k in range(n):
        d = torch.zeros(n, dtype=torch.float64)
        d[k] = eps
        cols.append((_update_field(model, rule, x, y, theta0 + d) - _update_field(model, rule, x, y, theta0 - d))
                    / (2 * eps))
    jac = torch.stack(cols, 1)
    asym = float((jac - jac.t()).norm() / jac.norm())
    assert (asym < 1e-6) if symmetric else (asym > 0.05)


def test_bad_arguments_raise():
    with pytest.raises(ConfigError, match="fraction"):
        Curl(fraction=1.5)
    with pytest.raises(ConfigError, match="side"):
        Curl(side="sideways")
    with pytest.raises(ConfigError, match="rule"):
        Curl("nope")
    with pytest.raises(ConfigError, match="base_kwargs"):
        Curl(Backprop(), seed=0, scale="match")
    with pytest.raises(ConfigError, match="neurons"):
        Curl(neurons="glia")
    with pytest.raises(ConfigError, match="incoming"):
        Curl(neurons="input", side="incoming")
    with pytest.raises(ConfigError, match="hidden layer"):
        Curl().prepare(MLP([4, 2]))


def test_remove_detaches_base_hooks():
    model, x, y = _setup()
    rule = Curl("fa", fraction=0.5, seed=0)
    rule.step(model, x, y)
    rule.remove()
    assert rule.base._prepared_for is None and rule._prepared_for is None


def test_renormalize_rescales_every_layer_to_its_initial_norm():
    model, x, y = _setup()
    norms = [float(m.weight.detach().norm()) for m in model.layers]
    rule = Curl("bp", fraction=0.4, neurons="input", renormalize=True, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(3):
        rule.step(model, x, y)
        opt.step()
    assert [float(m.weight.detach().norm()) for m in model.layers] != pytest.approx(norms)
    rule.renormalize_(model)
    assert [float(m.weight.detach().norm()) for m in model.layers] == pytest.approx(norms, rel=1e-6)
    assert rule.state_dict()["params"]["renormalize"] is True
    plain = Curl("bp", fraction=0.4, neurons="input", seed=0)
    plain.step(model, x, y)
    w = model.layers[0].weight.detach().clone()
    plain.renormalize_(model)                                    # no-op without renormalize
    assert torch.equal(w, model.layers[0].weight)
    with pytest.raises(ConfigError, match="renormalize"):
        Curl(renormalize="yes")
