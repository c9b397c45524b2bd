"""The reference's bilateral controllers and losses (Cerenaut/bilateral-motor-control) on the two-link arm."""

from __future__ import annotations

import pytest
import torch

from plasticity.circuits.bilateral import (
    REF_LOSSES,
    ArmParams,
    forward_kinematics,
    jacobian,
    make_episodes,
    reference_left_loss,
    reference_right_loss,
    rollout,
    rollout_activity,
    train_controller,
)
from plasticity.circuits.bilateral_dual import DualBilateral, Unilateral, _callosal
from plasticity.errors import ConfigError

P = ArmParams()


def test_jacobian_matches_finite_differences() -> None:
    q = torch.tensor([[0.7, 1.1], [0.3, 1.9]], dtype=torch.float64)
    eps = 1e-6
    fd = torch.stack([(forward_kinematics(q + eps * e, P) - forward_kinematics(q - eps * e, P)) / (2 * eps)
                      for e in torch.eye(2, dtype=torch.float64)], -1)
    assert torch.allclose(jacobian(q, P), fd, atol=1e-8)


def test_endpoint_load_holds_for_the_whole_episode_and_pushes_the_hand() -> None:
    ep = make_episodes("hold", 16, 20, P, torch.Generator().manual_seed(0), perturb=0.0, load=10.0)
    assert ep.load is not None and ep.load.abs().max() <= 10.0 and ep.perturbation.abs().sum() == 0
    assert make_episodes("reach", 4, 20, P, torch.Generator().manual_seed(0), load=10.0).load.abs().sum() == 0
    passive = Unilateral()
    torch.nn.init.zeros_(passive.out.weight)
    torch.nn.init.zeros_(passive.out.bias)  # zero torque: only the load moves the arm
    with torch.no_grad():
        x, _ = rollout(passive, ep, P)
    assert float((x[-1] - ep.target).norm(dim=-1).mean()) > 0.01


def test_callosal_pooling_pads_the_front() -> None:
    h = torch.tensor([[1.0, 3.0, 2.0, 5.0, 4.0]])
    assert torch.equal(_callosal(h), torch.tensor([[0.0, 0.0, 0.0, 3.0, 5.0]]))


def test_dual_bilateral_records_activity_and_keeps_weights_non_negative() -> None:
    b = DualBilateral(width=5, layers=2, callosum=True)
    ep = make_episodes("reach", 6, 12, P, torch.Generator().manual_seed(1))
    x, u, acts = rollout_activity(b, ep, P)
    assert x.shape == u.shape == (12, 6, 2) and len(acts) == 4 and acts[0].shape == (12, 6, 5)
    with torch.no_grad():
        b.mix.copy_(torch.tensor([-0.3, 0.8]))
    b.constrain()
    assert b.mix.tolist() == [0.0, pytest.approx(0.8)]
    # without the callosum the left output does not depend on the right stack
    free = DualBilateral(callosum=False)
    z = torch.randn(3, 10)
    free(z)
    left_only = [a.clone() for a in free.activity[0::2]]
    with torch.no_grad():
        for prm in free.right.parameters():
            prm.add_(1.0)
    free(z)
    assert all(torch.equal(a, c) for a, c in zip(left_only, free.activity[0::2], strict=True))


def test_reference_losses() -> None:
    target = torch.zeros(3, 2)
    x = torch.full((4, 3, 2), 0.1)
    u = torch.full((4, 3, 2), 5.0)
    h = [torch.zeros(4, 3, 5)]
    assert torch.allclose(reference_left_loss(x, u, target, h, P), torch.full((3,), 0.5))  # 5 x 0.1
    assert torch.allclose(reference_right_loss(x, u, target, h, P), torch.full((3,), 5 * 10 * 0.01 + 2 * 0.25))
    # activity and its rate of change are penalised
    moving = [torch.linspace(0, 1, 4)[:, None, None].expand(4, 3, 5)]
    assert (reference_left_loss(x, u, target, moving, P) > reference_left_loss(x, u, target, h, P)).all()
    shared = REF_LOSSES["ref_shared"](x, u, target, h, P)
    assert torch.allclose(shared, 0.5 * (reference_left_loss(x, u, target, h, P)
                                         + reference_right_loss(x, u, target, h, P)))


def test_dual_loss_training_routes_each_loss_to_its_hemisphere() -> None:
    """Each group moves under its own loss only: a stack left out of every group stays where it was."""
    torch.manual_seed(0)
    b = DualBilateral(callosum=False)
    right_before = [p.clone() for p in b.right.parameters()]
    g = torch.Generator().manual_seed(0)
    hist = train_controller(b, [(list(b.left.parameters()), "ref_left"), (b.shared(), "ref_shared")], P, steps=10,
                            iters=3, batch=8, generator=g, task="hold", perturb=0.0, load=10.0, clip=1.0, lr=1e-2)
    assert len(hist) == 3 and all(torch.equal(a, c) for a, c in zip(right_before, b.right.parameters(), strict=True))
    with pytest.raises(ConfigError, match="clip"):
        train_controller(b, [(b.shared(), "ref_shared")], P, steps=10, iters=1, batch=2, clip=-1.0)


def test_reference_training_learns_to_hold_against_a_load() -> None:
    torch.manual_seed(0)
    m = Unilateral()
    ev = make_episodes("hold", 64, 20, P, torch.Generator().manual_seed(7), perturb=0.0, load=10.0)

    def drift() -> float:
        with torch.no_grad():
            x, _ = rollout(m, ev, P)
            return float((x - ev.target).norm(dim=-1).mean())

    before = drift()
    train_controller(m, [(list(m.parameters()), "ref_right")], P, steps=20, iters=60, batch=32,
                     generator=torch.Generator().manual_seed(0), task="hold", perturb=0.0, load=10.0, clip=1.0,
                     lr=1e-2)
    assert drift() < 0.8 * before
