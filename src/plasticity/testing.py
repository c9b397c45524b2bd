"""Conformance suite for learning rules: ``check_rule(factory)`` runs the contract every rule must pass.

Like ``torch.testing`` for optimizers: a rule written in another package can call it in its own tests. Checks:
``.grad`` filled and finite; works under SGD, Adam and every geometry; ``state_dict`` survives ``torch.save`` /
``torch.load(weights_only=True)`` and the next step is bit-identical; ``repr``/``get_params``/``clone`` are
complete; float64 (and bfloat16 when ``rule.supports_bf16``) and CUDA when present; ``remove()`` restores the
model; a model the rule cannot act on gets a one-line ``PlasticityError``, never another exception.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .errors import PlasticityError
from .geometry import GEOMETRY_NAMES, make_geometry
from .rules.base import LearningRule, compute_loss
from .rules.registry import make_rule

Problem = tuple[nn.Module, torch.Tensor, torch.Tensor]

TINY_RUN_YAML = """\
name: tiny
model: {hidden: [8]}
rule: {name: fa}
geometry: {name: sgd, lr: 0.05}
data: {name: digits, n_train: 200, n_test: 50}
training: {epochs: 2, batch_size: 50}
"""
"""A run config that trains in about a second on the bundled digits: for CLI and plugin smoke tests."""


def conformance_problem(substrate: str, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                        seed: int = 0) -> Problem:
    """A tiny (model, x, y) for a rule's ``substrate``: mlp, energy, spiking, symstdp or recurrent-lif."""
    from .models import MLP
    from .models.energy import EnergyMLP
    from .spiking.layers import RecurrentLIFLayer, SpikingMLP
    from .spiking.symstdp import SymSTDPNet

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    if substrate == "mlp":
        model: nn.Module = MLP([12, 10, 8, 4], activation="tanh")
        x, y = torch.randn(6, 12, generator=g), torch.randint(0, 4, (6,), generator=g)
    elif substrate == "energy":
        model = EnergyMLP([6, 5, 4, 3], T1=12, T2=6)
        x, y = torch.rand(4, 6, generator=g), torch.randint(0, 3, (4,), generator=g)
    elif substrate == "spiking":
        model = SpikingMLP([6, 8, 3], n_steps=5)
        x, y = torch.rand(4, 6, generator=g), torch.randint(0, 3, (4,), generator=g)
    elif substrate == "symstdp":
        model = SymSTDPNet(n_in=6, n_exc=5, n_out=3, n_steps=12, seed=seed)
        model.generator = torch.Generator().manual_seed(seed)
        x, y = torch.rand(4, 6, generator=g), torch.randint(0, 3, (4,), generator=g)
    elif substrate == "recurrent-lif":
        model = RecurrentLIFLayer(5, 4)
        x = (torch.rand(30, 2, 5, generator=g) < 0.3).float() * 3
        y = (torch.rand(30, 2, 4, generator=g) < 0.1).float()
    else:
        raise PlasticityError(f"unknown substrate {substrate!r}; allowed: energy, mlp, recurrent-lif, spiking, symstdp")
    model = model.to(device=device, dtype=dtype)
    x = x.to(device=device, dtype=dtype)
    y = y.to(device=device, dtype=dtype) if torch.is_floating_point(y) else y.to(device)
    return model, x, y


def _unsupported_model(substrate: str, n_in: int) -> nn.Module:
    """A model a rule of ``substrate`` may well not support: attention (weights used functionally) or a plain MLP."""
    from .models import MLP

    if substrate == "mlp":
        class Attn(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inp = nn.Linear(12, 8)
                self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
                self.out = nn.Linear(8, 4)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                h = self.inp(x).unsqueeze(1)
                return self.out(self.attn(h, h, h, need_weights=False)[0].squeeze(1))
        return Attn()
    return MLP([n_in, 8, 4])


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def _grads(model: nn.Module) -> dict[str, torch.Tensor | None]:
    return {n: None if p.grad is None else p.grad.detach().clone() for n, p in model.named_parameters()}


def _assert_grads(model: nn.Module, what: str) -> None:
    grads = _grads(model)
    missing = [n for n, g in grads.items() if g is None]
    assert not missing, f"{what}: .grad not filled for {missing}"
    bad = [n for n, g in grads.items() if g is not None and not torch.isfinite(g.float()).all()]
    assert not bad, f"{what}: non-finite .grad in {bad}"


def _steps(rule: LearningRule, model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int,
           opt: torch.optim.Optimizer | None = None) -> None:
    for _ in range(n):
        rule.step(model, x, y)
        if opt is not None:
            opt.step()


def _same_params(a: dict[str, Any], b: dict[str, Any]) -> bool:
    norm = {k: repr(v) if isinstance(v, LearningRule) else v for k, v in a.items()}
    return norm == {k: repr(v) if isinstance(v, LearningRule) else v for k, v in b.items()}


def check_rule(factory: Callable[[], LearningRule] | str, *, geometries: tuple[str, ...] | None = None,
               dtypes: tuple[torch.dtype, ...] | None = None, devices: tuple[str, ...] | None = None) -> dict[str, str]:
    """Run the rule contract on ``factory()`` (or ``make_rule(name)``); raise ``AssertionError`` on a violation.

    Returns check name -> 'ok' or 'skipped: why'. ``geometries`` defaults to every name in ``GEOMETRY_NAMES``,
    ``dtypes`` to float64 (+ bfloat16 when the rule supports it), ``devices`` to cpu (+ cuda when available).
    """
    make: Callable[[], LearningRule] = (lambda: make_rule(factory)) if isinstance(factory, str) else factory
    rule = make()
    assert isinstance(rule, LearningRule), f"factory built {type(rule).__name__}, not a LearningRule"
    sub = rule.substrate
    results: dict[str, str] = {}

    # 1. .grad filled and finite, report well formed
    model, x, y = conformance_problem(sub)
    hooks_before = _hooks(model)
    report = rule.step(model, x, y)
    _assert_grads(model, "step")
    assert torch.isfinite(torch.as_tensor(report.loss, dtype=torch.float64)).all(), "report.loss is not finite"
    assert all(isinstance(v, float) for v in report.metrics.values()), "report.metrics must hold floats"
    results["grad"] = "ok"

    # 2. repr / get_params / clone
    twin = rule.clone()
    assert type(twin) is type(rule) and _same_params(twin.get_params(), rule.get_params()), "clone() lost arguments"
    assert repr(twin) == repr(rule), f"repr differs after clone: {rule!r} vs {twin!r}"
    results["params"] = "ok"

    # 3. optimizers and geometries
    names = GEOMETRY_NAMES if geometries is None else geometries
    makers: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9),
        "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
        **{g: (lambda ps, g=g: make_geometry(g, ps, lr=1e-2)) for g in names}}
    for key, mk in makers.items():
        m, xx, yy = conformance_problem(sub)
        before = [p.detach().clone() for p in m.parameters()]
        r = make()
        opt = mk(list(m.parameters()))
        _steps(r, m, xx, yy, 2, opt)
        after = list(m.parameters())
        assert all(torch.isfinite(p).all() for p in after), f"{key}: non-finite weights after two steps"
        assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), f"{key}: weights never changed"
    results["optimizers"] = "ok"

    # 4. state_dict round trip: torch.save / load(weights_only) and a bit-identical next step
    m1, x1, y1 = conformance_problem(sub)
    r1 = make()
    opt1 = torch.optim.SGD(m1.parameters(), lr=1e-2)
    _steps(r1, m1, x1, y1, 2, opt1)
    buf = io.BytesIO()
    torch.save({"rule": r1.state_dict(), "model": m1.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    m2 = conformance_problem(sub)[0]
    m2.load_state_dict(saved["model"])
    if isinstance(getattr(m1, "generator", None), torch.Generator):   # a model's own sampler (SymSTDPNet)
        m2.generator = torch.Generator().set_state(m1.generator.get_state())
    r2 = make()
    r2.load_state_dict(saved["rule"])
    assert _same_params(r2.get_params(), r1.get_params()), "load_state_dict did not restore the hyper-parameters"
    r1.step(m1, x1, y1)
    r2.step(m2, x1, y1)
    g1, g2 = _grads(m1), _grads(m2)
    diff = [n for n in g1 if not ((g1[n] is None and g2[n] is None) or (g1[n] is not None and g2[n] is not None
                                  and torch.equal(g1[n], g2[n])))]
    assert not diff, f"state_dict round trip: next step differs in {diff}"
    results["state_dict"] = "ok"

    # 5. remove() restores the model: no hooks left, plain autograd is backprop again
    r = make()
    m, xx, yy = conformance_problem(sub)
    r.step(m, xx, yy)
    r.remove()
    assert _hooks(m) == hooks_before, "remove() left hooks on the model"
    if sub == "mlp":
        m.zero_grad(set_to_none=True)
        compute_loss(m(xx), yy).backward()
        ref = _grads(m)
        ref_model = copy.deepcopy(m)
        ref_model.zero_grad(set_to_none=True)
        compute_loss(ref_model(xx), yy).backward()
        for n, g in _grads(ref_model).items():
            assert g is not None and torch.equal(g, ref[n]), f"after remove(), autograd differs from backprop in {n}"
    results["remove"] = "ok"

    # 6. dtypes and devices
    wanted = dtypes if dtypes is not None else ((torch.float64, torch.bfloat16) if rule.supports_bf16
                                                 else (torch.float64,))
    devs = devices if devices is not None else (("cpu", "cuda") if torch.cuda.is_available() else ("cpu",))
    for dev in devs:
        for dt in (torch.float32, *wanted) if dev != "cpu" else wanted:
            m, xx, yy = conformance_problem(sub, dtype=dt, device=dev)
            r = make()
            r.step(m, xx, yy)
            _assert_grads(m, f"{dt} on {dev}")
            assert all(p.grad is None or (p.grad.dtype == dt and p.grad.device == p.device) for p in m.parameters()), \
                f"{dt} on {dev}: .grad has the wrong dtype or device"
            # a prepared rule follows the model when it moves (rule tensors are registered)
            m.to(torch.float32 if dt != torch.float32 else torch.float64)
            xx = xx.to(next(m.parameters()).dtype) if torch.is_floating_point(xx) else xx
            yy = yy.to(next(m.parameters()).dtype) if torch.is_floating_point(yy) else yy
            r.step(m, xx, yy)
            _assert_grads(m, f"{dt} on {dev} after the model was cast")
        results[f"dtypes.{dev}"] = "ok"
    if "cuda" not in devs:
        results["dtypes.cuda"] = "skipped: no CUDA device"
    if not rule.supports_bf16:
        results["bfloat16"] = "skipped: rule.supports_bf16 is False"

    # 7. a model the rule cannot act on: either it works, or a one-line PlasticityError
    xo, yo = conformance_problem(sub)[1:]
    odd = _unsupported_model(sub, xo.shape[-1])
    try:
        make().step(odd, xo, yo)
    except PlasticityError as exc:
        assert "\n" not in str(exc), "the error for an unsupported model must be one line"
        results["unsupported"] = f"ok (raises: {str(exc)[:80]})"
    except Exception as exc:
        raise AssertionError(f"unsupported model raised {type(exc).__name__}: {exc} (expected a PlasticityError)") from exc
    else:
        results["unsupported"] = "ok (supported)"
    return results
