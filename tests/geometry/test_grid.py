"""Every geometry x every rule for a few steps, with the geometry's invariants."""

from __future__ import annotations

import pytest
import torch

from plasticity.geometry import DeviceSynapses, FixedPolarity, make_geometry
from plasticity.models import MLP
from plasticity.rules import make_rule

RULE_NAMES = ["bp", "fa", "sign", "dfa", "dfa-optical"]
GEOS = ["euclidean", "negentropy", "pnorm", "hypentropy", "polarity", "dale", "device"]


@pytest.mark.parametrize("rule_name", RULE_NAMES)
@pytest.mark.parametrize("geo", GEOS)
def test_geometry_rule_grid(geo: str, rule_name: str) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    model = MLP([6, 12, 3])
    rule = make_rule(rule_name)
    rule.prepare(model)
    kw: dict = {"lr": 0.05}
    if geo == "pnorm":
        kw["p"] = 3
    if geo == "polarity":
        kw.update(reset="zero")
    if geo == "device":
        kw.update(levels=16, nonlinearity=3.0, scheme="unidirectional" if rule_name in ("bp", "fa") else "bidirectional",
                  variation=0.1)
    opt = make_geometry(geo, model.parameters(), **kw)
    signs0 = [torch.sign(p.detach().clone()) for p in model.parameters()]
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(5):
        report = rule.step(model, x, y)
        assert all(p.grad is not None for p in model.parameters())
        opt.step()
        opt.zero_grad()
    params = list(model.parameters())
    assert all(torch.isfinite(p).all() for p in params)
    assert torch.isfinite(report.loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, params, strict=True)), "no weight changed"
    if geo == "negentropy":
        for s, p in zip(signs0, params, strict=True):
            assert torch.all(torch.sign(p) * s >= 0)
            assert torch.all((p != 0) == (s != 0))
    if geo in ("polarity", "dale"):
        assert isinstance(opt, FixedPolarity)
        for s, p in zip(opt.signs, opt.params, strict=True):
            assert torch.all(p * s >= 0)
    if geo == "dale":
        for p in opt.params:
            nz = p != 0
            pos = ((p > 0) & nz).any(0)
            neg = ((p < 0) & nz).any(0)
            assert not torch.any(pos & neg), "a presynaptic neuron has both signs"
    if geo == "device":
        assert isinstance(opt, DeviceSynapses)
        g = opt.param_groups[0]
        for p in params:
            st = opt.state[p]
            for k in ("n_plus", "n_minus"):
                n = st[k]
                assert torch.equal(n, n.round()) and n.min() >= 0 and n.max() <= g["levels"] - 1
            assert p.abs().max() <= g["w_range"] * (1 + 3 * g["variation"]) + 1e-6
            assert torch.allclose(p, opt._weight(st, g))
