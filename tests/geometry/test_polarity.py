"""Fixed polarity: patterns, resets, Dale's law, state dict, errors."""

from __future__ import annotations

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.geometry import DaleLaw, FixedPolarity, MirrorDescent, polarity_pattern
from plasticity.models import MLP


def _push_against(opt: FixedPolarity, model: MLP) -> None:
    for p in model.parameters():
        p.grad = 100 * torch.sign(p.detach())  # drives every weight through zero
    opt.step()


@pytest.mark.parametrize("reset", ["zero", "epsilon", "mirror"])
def test_resets_keep_signs(reset: str) -> None:
    torch.manual_seed(0)
    model = MLP([4, 6, 2])
    w0 = model.layers[0].weight.detach().clone()
    opt = FixedPolarity(torch.optim.SGD(model.parameters(), lr=0.1), "init", reset=reset, epsilon=0.01)
    _push_against(opt, model)
    w = model.layers[0].weight.detach()
    assert torch.all(w * torch.sign(w0) >= 0)
    if reset == "zero":
        assert torch.all(w == 0)
    elif reset == "epsilon":
        assert torch.allclose(w, 0.01 * torch.sign(w0))
    else:
        assert torch.allclose(w.abs(), (w0 - 10 * torch.sign(w0)).abs())
    assert opt.last_resets == sum(p.numel() for p in opt.params)


def test_patterns_random_tensor_transfer() -> None:
    torch.manual_seed(0)
    model, teacher = MLP([4, 6, 2]), MLP([4, 6, 2])
    ps = list(model.parameters())
    r1, r2 = polarity_pattern(ps, "random", seed=3), polarity_pattern(ps, "random", seed=3)
    assert all(torch.equal(a, b) for a, b in zip(r1, r2, strict=True)) and len(r1) == 2
    opt = FixedPolarity(MirrorDescent(model.parameters(), lr=0.1), teacher)
    for p, q in zip(opt.params, [teacher.layers[0].weight, teacher.layers[1].weight], strict=True):
        assert torch.all(p * torch.sign(q) >= 0)  # projected onto the transferred pattern
    given = [torch.ones(6, 4), -torch.ones(2, 6)]
    opt = FixedPolarity(torch.optim.SGD(model.parameters(), lr=0.1), given)
    assert torch.all(model.layers[0].weight >= 0) and torch.all(model.layers[1].weight <= 0)
    with pytest.raises(ConfigError, match="pattern"):
        FixedPolarity(torch.optim.SGD(model.parameters(), lr=0.1), [torch.ones(4, 6), torch.ones(2, 6)])
    with pytest.raises(ConfigError, match="pattern"):
        FixedPolarity(torch.optim.SGD(model.parameters(), lr=0.1), "sideways")
    with pytest.raises(ConfigError, match="reset"):
        FixedPolarity(torch.optim.SGD(model.parameters(), lr=0.1), reset="flip")


def test_dale_and_state_dict_and_scheduler() -> None:
    torch.manual_seed(0)
    model = MLP([5, 8, 3])
    opt = DaleLaw(MirrorDescent(model.parameters(), lr=0.1, momentum=0.9), excitatory=0.6, seed=1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        opt.step()
        sched.step()
    assert opt.inner.param_groups[0]["lr"] == pytest.approx(0.0125)
    for p, s in zip(opt.params, opt.signs, strict=True):
        assert torch.all(p * s >= 0)
        assert torch.all(s == s[:1])  # one sign per presynaptic neuron (column)
    sd = opt.state_dict()
    model2 = MLP([5, 8, 3])
    model2.load_state_dict(model.state_dict())
    opt2 = DaleLaw(MirrorDescent(model2.parameters(), lr=0.1, momentum=0.9), seed=99)
    opt2.load_state_dict(sd)
    assert all(torch.equal(a, b) for a, b in zip(opt.signs, opt2.signs, strict=True))
    assert "momentum_buffer" in opt2.state[model2.layers[0].weight]
