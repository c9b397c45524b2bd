"""Geometries resume bit-identically from a checkpoint; FixedPolarity works with add_param_group and schedulers."""

from __future__ import annotations

import io

import torch
from torch import nn

from plasticity.geometry import DaleLaw, DeviceSynapses, FixedPolarity, MirrorDescent
from plasticity.models import MLP
from plasticity.rules import make_rule


def _roundtrip(obj: dict) -> dict:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 10, generator=g), torch.randint(0, 3, (8,), generator=g)


def test_noisy_device_synapses_resume_bit_identically() -> None:
    torch.manual_seed(0)
    model = MLP([10, 12, 3])
    opt = DeviceSynapses(model.parameters(), lr=0.2, levels=16, nonlinearity=2.0, variation=0.1, read_noise=0.02,
                         seed=3)
    rule = make_rule("bp")
    for t in range(3):
        rule.step(model, *_batch(t))
        opt.step()
    ckpt = _roundtrip({"model": model.state_dict(), "opt": opt.state_dict()})
    torch.manual_seed(1)
    model2 = MLP([10, 12, 3])
    opt2 = DeviceSynapses(model2.parameters(), lr=0.2, levels=16, nonlinearity=2.0, variation=0.1, read_noise=0.02,
                          seed=99)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    for t in range(3, 6):
        for m, o in ((model, opt), (model2, opt2)):
            rule.step(m, *_batch(t))
            o.step()
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b)
    assert opt.refreshes == opt2.refreshes


def _polarity(model: nn.Module) -> FixedPolarity:
    inner = MirrorDescent([model.layers[0].weight, model.layers[0].bias], lr=0.1, momentum=0.9)
    return FixedPolarity(inner, reset="mirror")


def test_fixed_polarity_add_param_group_scheduler_and_checkpoint() -> None:
    torch.manual_seed(0)
    model = MLP([10, 12, 3])
    opt = _polarity(model)
    opt.add_param_group({"params": [model.layers[1].weight, model.layers[1].bias], "lr": 0.05})
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    rule = make_rule("fa", seed=1)
    signs0 = [torch.sign(model.layers[i].weight.detach()).clone() for i in (0, 1)]
    for t in range(3):
        rule.step(model, *_batch(t))
        opt.step()
        sched.step()
    for i in (0, 1):                                    # the added group is constrained too
        w = model.layers[i].weight
        assert ((w * signs0[i]) >= 0).all()
        assert torch.equal(opt.state[w]["sign"], torch.where(signs0[i] < 0, -1.0, 1.0))
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.025]
    ckpt = _roundtrip({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                       "rule": rule.state_dict()})
    model2 = MLP([10, 12, 3])
    model2.load_state_dict(ckpt["model"])
    opt2 = _polarity(model2)
    opt2.add_param_group({"params": [model2.layers[1].weight, model2.layers[1].bias], "lr": 0.05})
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    rule2 = make_rule("fa", seed=7)
    rule2.load_state_dict(ckpt["rule"])
    for t in range(3, 6):
        for r, m, o, s in ((rule, model, opt, sched), (rule2, model2, opt2, sched2)):
            r.step(m, *_batch(t))
            o.step()
            s.step()
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_dale_with_adam_keeps_lazy_state_working() -> None:
    torch.manual_seed(0)
    model = MLP([10, 12, 3])
    opt = DaleLaw(torch.optim.Adam(model.parameters(), lr=1e-2), excitatory=0.5, reset="zero")
    rule = make_rule("bp")
    for t in range(3):
        rule.step(model, *_batch(t))
        opt.step()
    w = model.layers[0].weight
    assert "exp_avg" in opt.state[w] and "sign" in opt.state[w]
    assert ((w * opt.state[w]["sign"]) >= 0).all()
