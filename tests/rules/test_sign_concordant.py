"""brSF / frSF against hand computations, feedback diagnostics, Conv1d, float64 and the no-silent-BP errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import plasticity as P
from plasticity.rules import (
    BatchwiseRandomSignFeedback,
    DirectFeedbackAlignment,
    FeedbackAlignment,
    FixedRandomSignFeedback,
    SignSymmetry,
    UnsupportedModelError,
    make_rule,
)


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = P.MLP([6, 5, 4, 3], activation="tanh")
    g = torch.Generator().manual_seed(seed + 1)
    return model, torch.randn(7, 6, generator=g), torch.randint(0, 3, (7,), generator=g)


def _hand_grads(model, x, y, feedback: list[torch.Tensor]) -> list[torch.Tensor]:
    """Weight gradients of a 3-layer tanh MLP with feedback B_l replacing W_l in the backward pass (l = 1, 2)."""
    w = [m.weight.detach() for m in model.layers]
    b = [m.bias.detach() for m in model.layers]
    h0 = torch.tanh(x @ w[0].t() + b[0])
    h1 = torch.tanh(h0 @ w[1].t() + b[1])
    out = h1 @ w[2].t() + b[2]
    e = (torch.softmax(out, 1) - F.one_hot(y, 3).to(out)) / x.shape[0]
    d1 = (e @ feedback[2]) * (1 - h1**2)
    d0 = (d1 @ feedback[1]) * (1 - h0**2)
    return [d0.t() @ x, d1.t() @ h0, e.t() @ h1]


def _bound(shape) -> float:
    return math.sqrt(6.0 / (shape[0] + shape[1]))


def test_frsf_is_fixed_magnitude_times_sign_of_w() -> None:
    model, x, y = _setup()
    rule = FixedRandomSignFeedback(seed=4)
    rule.step(model, x, y)
    mags = []
    for i, m in enumerate(model.layers):                 # M drawn once per layer, in layer order, |Glorot-uniform|
        gen = torch.Generator().manual_seed(4 * 1000003 + i)
        mags.append(torch.rand(m.weight.shape, generator=gen) * _bound(m.weight.shape))
    fb = [mag * torch.sign(m.weight.detach()) for mag, m in zip(mags, model.layers, strict=True)]
    for got, want in zip([m.weight.grad for m in model.layers], _hand_grads(model, x, y, fb), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    # the magnitude stays fixed while W's signs move: B follows sign(W) with the same |B|
    with torch.no_grad():
        model.layers[2].weight.neg_()
    b = rule.feedback("layers.2", model.layers[2])
    assert torch.equal(b.abs(), mags[2]) and torch.equal(torch.sign(b), torch.sign(model.layers[2].weight))


def test_brsf_redraws_magnitudes_every_batch() -> None:
    model, x, y = _setup()
    rule = BatchwiseRandomSignFeedback(seed=2)
    gen = torch.Generator().manual_seed(2)               # the rule's generator: every layer, in order, every step
    for _ in range(2):
        mags = [torch.rand(m.weight.shape, generator=gen) * _bound(m.weight.shape) for m in model.layers]
        rule.step(model, x, y)
        fb = [mag * torch.sign(m.weight.detach()) for mag, m in zip(mags, model.layers, strict=True)]
        for got, want in zip([m.weight.grad for m in model.layers], _hand_grads(model, x, y, fb), strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    g1 = model.layers[0].weight.grad.clone()
    rule.step(model, x, y)
    assert not torch.equal(model.layers[0].weight.grad, g1)   # same data, new magnitudes


def test_feedback_diagnostics_angle_and_norm_ratio() -> None:
    model, x, y = _setup()
    fa = FeedbackAlignment(diagnostics=True).prepare(model)
    for name, m in P.rules.plastic_layers(model):
        fa.set_feedback(name, 2 * m.weight.detach())
    rep = fa.step(model, x, y)
    assert rep.metrics["angle.layers.2"] == pytest.approx(0.0, abs=1e-3)
    assert rep.metrics["norm_ratio.layers.1"] == pytest.approx(2.0)
    assert "angle.layers.0" not in rep.metrics                # the first layer's feedback is never used
    for name in ("sign", "frsf", "brsf"):
        metrics = make_rule(name, diagnostics=True).step(model, x, y).metrics
        assert 0 <= metrics["angle.layers.1"] < 90            # sign-concordant: always within 90 degrees
    assert "angle.layers.1" not in make_rule("fa").step(model, x, y).metrics   # off by default


def test_conv1d_fa_with_b_equal_w_is_backprop() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.Tanh(), nn.Conv1d(4, 3, 3, stride=2), nn.Tanh(),
                          nn.Flatten(), nn.Linear(3 * 4, 5))
    x, y = torch.randn(6, 2, 10), torch.randint(0, 5, (6,))
    P.Backprop().step(model, x, y)
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    fa = FeedbackAlignment().prepare(model)
    for name, m in P.rules.plastic_layers(model):
        fa.set_feedback(name, m.weight.detach())
    fa.step(model, x, y)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref[n], rtol=1e-5, atol=1e-6)
    FeedbackAlignment(seed=1).step(model, x, y)
    assert not torch.allclose(model[0].weight.grad, ref["0.weight"])   # FA really acts on the Conv1d layers
    DirectFeedbackAlignment(feedback="structured").step(model, x, y)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["dfa", "fa", "sign", "brsf", "frsf", "dfa-optical"])
def test_float64_models(name: str) -> None:
    torch.manual_seed(0)
    model = P.MLP([6, 5, 3]).double()
    x, y = torch.randn(4, 6, dtype=torch.float64), torch.randint(0, 3, (4,))
    make_rule(name).step(model, x, y)
    assert all(p.grad.dtype == torch.float64 and torch.isfinite(p.grad).all() for p in model.parameters())
    ref = model.layers[1].weight.grad.clone()
    P.Backprop().step(model, x, y)
    torch.testing.assert_close(ref, model.layers[1].weight.grad)   # the readout's update is backprop's


class _Attn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(6, 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.out = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x).unsqueeze(1)
        return self.out(self.attn(h, h, h, need_weights=False)[0].squeeze(1))


@pytest.mark.parametrize("name", ["fa", "sign", "brsf", "frsf", "dfa"])
def test_multihead_attention_gets_a_clear_error_unless_fallback_is_allowed(name: str) -> None:
    model, x, y = _Attn(), torch.randn(4, 6), torch.randint(0, 3, (4,))
    with pytest.raises(UnsupportedModelError, match=r"attn \(MultiheadAttention\).*allow_bp_fallback=True"):
        make_rule(name).step(model, x, y)
    rule = make_rule(name, allow_bp_fallback=True)
    rep = rule.step(model, x, y)
    assert rep.metrics["bp_fallback_modules"] == 1.0 and rule.get_params()["allow_bp_fallback"] is True
    assert "allow_bp_fallback=True" in repr(rule)


def test_structured_conv_feedback_is_small_and_learns_signal() -> None:
    torch.manual_seed(0)
    model = P.ConvNet((1, 8, 8), channels=(4, 6), hidden=12, n_classes=10)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    dense, structured = DirectFeedbackAlignment(), DirectFeedbackAlignment(feedback="structured", kernel_size=3)
    dense.step(model, x, y)
    structured.step(model, x, y)
    assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in model.parameters())
    assert structured.feedback_numel() < dense.feedback_numel()
    assert any(k.startswith("K.") for k in structured.buffers) and any(k.startswith("B.") for k in structured.buffers)


def test_sign_symmetry_reports_rule_name_and_params() -> None:
    rule = SignSymmetry(scale=None, diagnostics=True)
    assert rule.name == "sign" and "scale=None" in repr(rule) and rule.clone().get_params() == rule.get_params()


def test_dfa_diagnostics_report_feedback_size() -> None:
    model, x, y = _setup()
    metrics = DirectFeedbackAlignment(diagnostics=True).step(model, x, y).metrics
    assert metrics["numel.layers.1"] == 5 * 3 and metrics["norm_ratio.layers.2"] > 0
