from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from plasticity.data import load_dataset
from plasticity.errors import ConfigError
from plasticity.models.mlp import MLP
from plasticity.rules.backprop import Backprop
from plasticity.rules.disinhibition import Disinhibition


def _batch(n: int = 32, d: int = 6, k: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


def test_readout_gets_the_delta_rule_and_every_parameter_a_finite_update():
    x, y = _batch()
    model = MLP([6, 16, 12, 3])
    rule = Disinhibition(seed=1)
    rep = rule.step(model, x, y)
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    last = model.layers[-1]
    w, b = last.weight.grad.clone(), last.bias.grad.clone()
    Backprop().step(model, x, y)
    torch.testing.assert_close(w, last.weight.grad)                # the readout learns exactly like BP
    torch.testing.assert_close(b, last.bias.grad)
    assert 0.0 <= rep.metrics["ltp_fraction"] <= 1.0 and rep.metrics["topdown_rms"] > 0
    assert rep.loss.ndim == 0 and rep.output.shape == (32, 3)


def test_hidden_update_is_the_settled_topdown_signal_times_presynaptic_rate():
    """At the settled state the Hebbian bracket equals the top-down input t = -gain e B (exact inverse),
    so the hidden update is -(t * f'(a))^T x / batch: DFA-like credit assignment carried by dis-inhibition."""
    x, y = _batch(64)
    model = MLP([6, 20, 3]).double()
    rule = Disinhibition(seed=3, gain=0.05, steps=400, dt=0.05)
    rule.step(model, x.double(), y)
    with torch.no_grad():
        a = model.layers[0](x.double())
        e = torch.softmax(model(x.double()), 1) - F.one_hot(y, 3).double()
        t = -0.05 * e @ rule.buffers["B.layers.0"]
        expected = -((t * (a > 0)).t() @ x.double()) / x.shape[0]
    got = model.layers[0].weight.grad
    cos = float((got * expected).sum() / (got.norm() * expected.norm()))
    assert cos > 0.99
    assert float((got - expected).norm() / expected.norm()) < 0.15   # units near a = 0 may switch gate


def test_sign_of_plasticity_follows_dis_inhibition():
    """Units whose interneuron is dis-inhibited (t > 0) potentiate their active synapses, inhibited ones depress."""
    x = torch.rand(1, 4) + 0.5                                      # one positive input pattern
    model = MLP([4, 30, 2])
    with torch.no_grad():
        model.layers[0].weight.abs_()                               # every hidden unit active
        model.layers[0].bias.fill_(0.1)
    rule = Disinhibition(seed=0, gain=0.1, steps=200, dt=0.1)
    y = torch.tensor([1])
    rule.step(model, x, y)
    with torch.no_grad():
        e = torch.softmax(model(x), 1) - F.one_hot(y, 2).float()
        t = -0.1 * e @ rule.buffers["B.layers.0"]
    dw = -model.layers[0].weight.grad                               # the applied change
    assert torch.equal(torch.sign(dw[:, 0]), torch.sign(t[0]))


def test_learns_a_non_linearly_separable_task():
    data = load_dataset("xor5d", seed=0, n_train=400, n_test=400)
    torch.manual_seed(0)
    model = MLP([5, 64, 2])
    rule = Disinhibition(seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(4):
        perm = torch.randperm(400)
        for i in range(0, 400, 32):
            idx = perm[i:i + 32]
            rule.step(model, data.x_train[idx], data.y_train[idx])
            opt.step()
    with torch.no_grad():
        acc = float((model(data.x_test).argmax(1) == data.y_test).float().mean())
    assert acc > 0.8                                                # a linear readout alone stays near 0.5


def test_tanh_activation_and_state_roundtrip():
    x, y = _batch()
    model = MLP([6, 10, 3], activation="tanh")
    rule = Disinhibition(seed=5)
    rule.step(model, x, y)
    assert torch.isfinite(model.layers[0].weight.grad).all() and model.layers[0].weight.grad.abs().sum() > 0
    other = Disinhibition(seed=99)
    other.prepare(model)
    assert not torch.equal(other.buffers["B.layers.0"], rule.buffers["B.layers.0"])
    other.load_state_dict(rule.state_dict())
    torch.testing.assert_close(other.buffers["B.layers.0"], rule.buffers["B.layers.0"])


def test_bad_arguments_raise():
    with pytest.raises(ConfigError, match="gain"):
        Disinhibition(gain=0.0)
    with pytest.raises(ConfigError, match="inverse"):
        Disinhibition(inverse="cubic")
    with pytest.raises(ConfigError, match=r"two nn\.Linear"):
        Disinhibition().step(MLP([6, 3]), *_batch())
