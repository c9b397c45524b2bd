"""Projection methods: gradients lose the stored subspace; protected inputs keep their outputs under any rule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from plasticity.continual import HLOP, SVDProjection, activity_rows, collect_activity, layer_input_dim
from plasticity.data import TaskData
from plasticity.errors import ConfigError
from plasticity.models import MLP, ConvNet
from plasticity.rules import make_rule, plastic_layers


def _task(x: torch.Tensor, y: torch.Tensor) -> TaskData:
    return TaskData("t", x, y, x, y, tuple(x.shape[1:]), 3)


def _low_rank_inputs(n: int, dim: int, rank: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, rank, generator=g) @ torch.randn(rank, dim, generator=g)


def test_conv_activity_rows_rebuild_the_weight_gradient() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.randn(4, 2, 5, 5)
    out = conv(x)
    delta = torch.randn_like(out)
    out.backward(delta)
    rows = activity_rows(conv, x)                         # (4*25, 2*9 + 1)
    d = delta.permute(0, 2, 3, 1).reshape(-1, 3)
    g = d.t() @ rows
    assert rows.shape == (100, layer_input_dim(conv)) == (100, 19)
    assert torch.allclose(g[:, :18], conv.weight.grad.reshape(3, 18), atol=1e-4)
    assert torch.allclose(g[:, 18], conv.bias.grad, atol=1e-4)


@pytest.mark.parametrize("method_cls", [SVDProjection, HLOP])
def test_projected_gradients_are_orthogonal_to_the_stored_rows(method_cls: type) -> None:
    torch.manual_seed(0)
    model = ConvNet((1, 8, 8), channels=(4,), hidden=16, n_classes=3)
    x = torch.rand(256, 1, 8, 8)
    y = torch.randint(0, 3, (256,))
    method = method_cls(components=[5, 8, 6], max_rows=4000)
    method.after_task(model, _task(x, y), 0)
    rule = make_rule("bp")
    rule.step(model, torch.rand(32, 1, 8, 8), torch.randint(0, 3, (32,)))
    method(model)
    for name, module in plastic_layers(model):
        g = torch.cat([module.weight.grad.reshape(module.weight.shape[0], -1), module.bias.grad[:, None]], 1)
        m = method.rows(name)
        q = torch.linalg.qr(m.t())[0]
        rel = (g @ q).norm() / g.norm()
        assert float(rel) < (1e-4 if method_cls is SVDProjection else 0.05), name


@pytest.mark.parametrize("rule_name", ["bp", "fa", "sign", "dfa"])
def test_full_protection_keeps_old_outputs_under_every_rule(rule_name: str) -> None:
    """Old inputs span a 4-dim subspace; storing its full span in every layer makes later training invisible."""
    torch.manual_seed(1)
    model = MLP([12, 16, 16, 3])
    xa = _low_rank_inputs(8, 12, 4, seed=2)
    ya = torch.randint(0, 3, (8,))
    method = SVDProjection(components=[5, 9, 9])          # rank 4 (+bias) at the input, <= 8 (+bias) above
    method.after_task(model, _task(xa, ya), 0)
    before = model(xa).detach()
    rule = make_rule(rule_name)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    xb, yb = torch.randn(32, 12), torch.randint(0, 3, (32,))
    w0 = model.layers[0].weight.detach().clone()
    for _ in range(30):
        rule.step(model, xb, yb)
        method(model)
        opt.step()
    assert not torch.allclose(model.layers[0].weight, w0)       # it did learn something
    assert torch.allclose(model(xa).detach(), before, atol=1e-4)


def test_hlop_protection_is_close_to_exact() -> None:
    torch.manual_seed(1)
    model = MLP([12, 16, 3])
    xa = _low_rank_inputs(2000, 12, 3, seed=4)
    ya = torch.randint(0, 3, (2000,))
    method = HLOP(components=[4, 10], epochs=10)
    method.after_task(model, _task(xa, ya), 0)
    assert method.history[0]["captured.layers.0"] > 0.999
    before = model(xa).detach()
    rule = make_rule("bp")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plain = MLP([12, 16, 3])
    plain.load_state_dict(model.state_dict())
    plain_opt = torch.optim.SGD(plain.parameters(), lr=0.1)
    xb, yb = torch.randn(32, 12), torch.randint(0, 3, (32,))
    for _ in range(20):
        rule.step(model, xb, yb)
        method(model)
        opt.step()
        rule.step(plain, xb, yb)
        plain_opt.step()
    with torch.no_grad():
        drift = (model(xa) - before).norm() / before.norm()
        plain_drift = (plain(xa) - before).norm() / before.norm()
    assert float(drift) < 0.1 * float(plain_drift)


def test_components_errors_are_clear() -> None:
    model = MLP([6, 8, 3])
    with pytest.raises(ConfigError, match=r"layers.0.*8 subspace components.*only 7 inputs"):
        SVDProjection(components=[4, 2]).plan(model, n_tasks=2)
    with pytest.raises(ConfigError, match=r"one number per layer.*2 Linear/Conv2d"):
        HLOP(components=[1, 2, 3]).plan(model, n_tasks=1)
    with pytest.raises(ConfigError, match="components"):
        HLOP(components=-1)
    x = torch.randn(10, 6)
    method = SVDProjection(components=[7, 2])
    method.after_task(model, _task(x, torch.zeros(10, dtype=torch.long)), 0)
    with pytest.raises(ConfigError, match=r"layers.0.*14 subspace components"):
        method.after_task(model, _task(x, torch.zeros(10, dtype=torch.long)), 1)


def test_collect_activity_caps_rows_and_restores_mode() -> None:
    model = ConvNet((1, 8, 8), channels=(4,), hidden=16, n_classes=3)
    model.train()
    acts = collect_activity(model, torch.rand(20, 1, 8, 8), plastic_layers(model), batch_size=7, max_rows=50)
    assert model.training
    assert acts["convs.0"].shape == (50, 10) and acts["fc"].shape == (20, 65) and acts["readout"].shape == (20, 17)
    assert torch.all(acts["fc"][:, -1] == 1)
    with pytest.raises(ConfigError, match="groups"):
        layer_input_dim(nn.Conv2d(4, 4, 3, groups=2))


def test_online_hlop_learns_the_task_subspace_during_training_and_protects_it() -> None:
    import torch
    from torch import nn

    from plasticity.continual import OnlineHLOP

    torch.manual_seed(0)
    basis = torch.linalg.qr(torch.randn(10, 3))[0].t()           # a 3-d subspace of the 10 inputs
    model = nn.Sequential(nn.Linear(10, 4, bias=False))
    method = OnlineHLOP(components_per_task=[3, 2], lr=0.05, iterations=5, clamp=10.0, include_bias=False)
    method.plan(model, 2)
    assert method.rows("0").shape == (0, 10)                      # nothing merged before task 0 ends
    for _ in range(300):                                          # "training" batches of task 0
        x = torch.randn(32, 3) @ basis * 2.0
        model(x).sum().backward()
        method(model)
        model.zero_grad()
    task = type("T", (), {"x_train": torch.randn(200, 3) @ basis})()
    info = method.after_task(model, task, 0)
    assert info["components.0"] == 3 and info["captured.0"] > 0.95
    x = torch.randn(32, 10)                                       # task 1: the gradient avoids the old subspace
    model(x).sum().backward()
    method(model)
    g = model[0].weight.grad
    assert float((g @ basis.t()).abs().max()) < 0.05 * float(g.abs().max())
    assert method.subspaces["0"].n_components == 5 and method.stored("0") == 3
