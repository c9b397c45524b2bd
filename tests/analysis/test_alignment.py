from __future__ import annotations

import torch

import plasticity as P


def test_angle_between_basic_cases():
    a = torch.tensor([1.0, 0.0])
    assert abs(P.angle_between(a, torch.tensor([0.0, 2.0])) - 90) < 1e-9
    assert abs(P.angle_between(a, -a)) - 180 < 1e-9
    assert P.angle_between(a, a) < 1e-6
    assert P.angle_between(a, torch.zeros(2)) == 90.0


def test_update_alignment_of_bp_is_zero_and_restores_grads():
    m = P.MLP([64, 16, 10])
    x, y = torch.randn(8, 64), torch.randint(0, 10, (8,))
    for p in m.parameters():
        p.grad = torch.ones_like(p)
    angles = P.update_alignment(m, P.Backprop(), x, y)
    assert max(angles.values()) < 1e-3
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in m.parameters())
