"""Exactness and behaviour of BP, FA, sign symmetry, DFA and optical DFA."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import plasticity as P
from plasticity.rules import DirectFeedbackAlignment, FeedbackAlignment, OpticalProjection, SignSymmetry
from plasticity.rules.feedback import fa_weight_angles


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def _batch(n=16, shape=(64,), classes=10):
    return torch.randn(n, *shape), torch.randint(0, classes, (n,))


@pytest.mark.parametrize("make_model", [
    lambda: P.MLP([64, 32, 16, 10], activation="tanh"),
    lambda: P.ConvNet((1, 8, 8), channels=(4, 6), hidden=12, n_classes=10),
])
def test_fa_with_b_equal_w_is_backprop(make_model):
    model = make_model()
    x, y = _batch(shape=(1, 8, 8))
    P.Backprop().step(model, x, y)
    ref = _grads(model)
    fa = FeedbackAlignment(seed=3).prepare(model)
    for name, m in P.rules.plastic_layers(model):
        fa.set_feedback(name, m.weight.detach())
    fa.step(model, x, y)
    for n, g in _grads(model).items():
        torch.testing.assert_close(g, ref[n], rtol=1e-5, atol=1e-6)


def test_fa_random_feedback_differs_and_is_seeded():
    model = P.MLP([64, 32, 10])
    x, y = _batch()
    P.Backprop().step(model, x, y)
    ref = _grads(model)
    FeedbackAlignment(seed=1).step(model, x, y)
    g1 = _grads(model)
    # last layer's own gradient is the same as BP; the hidden layer's differs
    torch.testing.assert_close(g1["layers.1.weight"], ref["layers.1.weight"])
    assert not torch.allclose(g1["layers.0.weight"], ref["layers.0.weight"])
    FeedbackAlignment(seed=1).step(model, x, y)
    torch.testing.assert_close(_grads(model)["layers.0.weight"], g1["layers.0.weight"])


def test_sign_symmetry_equals_bp_when_magnitudes_constant():
    model = P.MLP([64, 32, 32, 10])
    with torch.no_grad():
        for m in model.layers:
            m.weight.copy_(0.07 * torch.sign(torch.randn_like(m.weight)))
    x, y = _batch()
    P.Backprop().step(model, x, y)
    ref = _grads(model)
    SignSymmetry().step(model, x, y)
    for n, g in _grads(model).items():
        torch.testing.assert_close(g, ref[n], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("rule_cls", [DirectFeedbackAlignment, lambda seed: P.OpticalDFA(seed=seed)])
def test_dfa_last_layer_equals_bp(rule_cls):
    model = P.MLP([64, 48, 32, 10])
    x, y = _batch()
    P.Backprop().step(model, x, y)
    ref = _grads(model)
    rule_cls(seed=0).step(model, x, y)
    got = _grads(model)
    torch.testing.assert_close(got["layers.2.weight"], ref["layers.2.weight"])
    torch.testing.assert_close(got["layers.2.bias"], ref["layers.2.bias"])
    for n in ("layers.0.weight", "layers.1.weight"):
        assert got[n].abs().sum() > 0 and not torch.allclose(got[n], ref[n])


def test_dfa_injects_projected_error():
    """Hidden layer just below the output: δ = (B e) ⊙ f'(a), dW = δ xᵀ."""
    model = P.MLP([8, 6, 3], activation="tanh")
    x, y = torch.randn(5, 8), torch.randint(0, 3, (5,))
    rule = DirectFeedbackAlignment(seed=2)
    rule.step(model, x, y)
    b = rule.buffers["B.layers.1"]                       # features(6) x n_out(3)
    with torch.no_grad():
        a = model.layers[0](x)
        out = model.layers[1](torch.tanh(a))
        e = torch.softmax(out, 1) - torch.nn.functional.one_hot(y, 3).float()
        e = e / x.shape[0]
        delta = (e @ b.t()) * (1 - torch.tanh(a) ** 2)
    torch.testing.assert_close(model.layers[0].weight.grad, delta.t() @ x, rtol=1e-5, atol=1e-7)


def test_dfa_works_on_conv():
    model = P.ConvNet((1, 8, 8), channels=(4,), hidden=16, n_classes=10)
    x, y = _batch(shape=(1, 8, 8))
    DirectFeedbackAlignment().step(model, x, y)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_hooks_inactive_outside_step():
    model = P.MLP([64, 32, 10])
    x, y = _batch()
    P.Backprop().step(model, x, y)
    ref = _grads(model)
    for rule in (FeedbackAlignment(), DirectFeedbackAlignment(), SignSymmetry()):
        rule.prepare(model)
        model.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        for n, g in _grads(model).items():
            torch.testing.assert_close(g, ref[n])
        rule.remove()


def test_rule_state_round_trip_restores_feedback():
    model = P.MLP([64, 32, 10])
    x, y = _batch()
    a = DirectFeedbackAlignment(seed=5)
    a.step(model, x, y)
    g_a = _grads(model)
    state = a.state_dict()
    b = DirectFeedbackAlignment(seed=99)
    b.load_state_dict(state)
    b.step(model, x, y)
    for n, g in _grads(model).items():
        torch.testing.assert_close(g, g_a[n])
    fa = FeedbackAlignment(seed=1).prepare(model)
    fb = FeedbackAlignment(seed=2).prepare(model)
    fb.load_state_dict(fa.state_dict())
    for k in fa.buffers:
        torch.testing.assert_close(fa.buffers[k], fb.buffers[k])


def test_optical_projection_is_close_to_its_linear_part_when_ideal():
    import math

    torch.manual_seed(0)
    op = OpticalProjection(bits=16, noise=0.0, threshold=0.0, n_ref=16)
    feats, n_out = 200, 10
    g = torch.Generator().manual_seed(0)
    re, im = torch.randn(2, feats, n_out + op.n_ref, generator=g) / math.sqrt(2)
    medium = torch.complex(re, im) / math.sqrt(feats)
    e = torch.randn(32, n_out)
    pos, neg, scales = op.ternarise(e)
    assert set(pos.unique().tolist()) <= {0.0, 1.0} and not (pos * neg).any()
    ref = medium[:, n_out:].sum(1)
    b_eff = (torch.conj(ref)[:, None] * medium[:, :n_out]).real * (math.sqrt(feats) / math.sqrt(op.n_ref / 2))
    ideal = (pos * scales[:, :1] - neg * scales[:, 1:]) @ b_eff.t()
    got = op.project(e, medium)
    cos = torch.nn.functional.cosine_similarity(got.flatten(), ideal.flatten(), dim=0)
    assert cos > 0.999
    # an 4-bit noisy camera is still well aligned with the ideal projection
    noisy = OpticalProjection(bits=4, noise=0.02, threshold=0.0).project(e, medium, torch.Generator().manual_seed(1))
    assert torch.nn.functional.cosine_similarity(noisy.flatten(), ideal.flatten(), dim=0) > 0.8


def test_fa_angle_to_bp_falls_well_below_90_after_training():
    data = P.load_dataset("digits")
    P.seed_everything(0)
    model = P.MLP([64, 128, 10])
    rule = FeedbackAlignment(seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    P.Trainer(model, rule, opt, data, epochs=8, batch_size=32).fit()
    angles = P.update_alignment(model, rule, data.x_test[:256], data.y_test[:256])
    assert angles["layers.0"] < 60.0, angles
    assert angles["layers.1"] < 1e-3                   # output layer: same as BP
    assert fa_weight_angles(rule, model)["layers.1"] < 80.0   # W aligns with B


def test_unknown_rule_and_loss_names():
    with pytest.raises(P.ConfigError, match="unknown rule 'fax'.*allowed: bp, brsf, curl, dfa"):
        P.make_rule("fax")
    with pytest.raises(P.ConfigError, match="loss"):
        P.Backprop(loss="hinge")


def test_label_shape_mismatch_is_a_clear_error():
    model = P.MLP([64, 10])
    with pytest.raises(P.ConfigError, match="labels of shape"):
        P.Backprop().step(model, torch.randn(4, 64), torch.zeros(5, dtype=torch.long))
