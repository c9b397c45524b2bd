"""Two-link arm and hemisphere controllers (bilateral motor control)."""

from __future__ import annotations

import pytest
import torch

from plasticity.circuits.bilateral import (
    ArmParams,
    BilateralController,
    GatedBilateral,
    Hemisphere,
    arm_step,
    behaviour,
    controller_features,
    forward_kinematics,
    make_episodes,
    rollout,
    smoothness_loss,
    stability_loss,
    train_controller,
)
from plasticity.errors import ConfigError

P = ArmParams()


def test_kinematics_and_rest() -> None:
    q = torch.zeros(1, 2)
    assert torch.allclose(forward_kinematics(q, P), torch.tensor([[P.l1 + P.l2, 0.0]]))
    q = torch.tensor([[0.5, 1.0]])
    q2, dq2 = arm_step(q, torch.zeros_like(q), torch.zeros_like(q), P)
    assert torch.equal(q2, q) and torch.equal(dq2, torch.zeros_like(q))       # no gravity: rest stays rest
    _, dq = arm_step(q, torch.zeros_like(q), torch.tensor([[1.0, 0.0]]), P)
    assert dq[0, 0] > 0                                                           # shoulder torque accelerates q1


def _kinetic(q: torch.Tensor, dq: torch.Tensor, p: ArmParams) -> float:
    a1 = p.i1 + p.i2 + p.m2 * p.l1**2 + p.m1 * p.c1**2 + p.m2 * p.c2**2
    a2, a3 = p.m2 * p.l1 * p.c2, p.i2 + p.m2 * p.c2**2
    c = torch.cos(q[0, 1])
    m = torch.stack([torch.stack([a1 + 2 * a2 * c, a3 + a2 * c]), torch.stack([a3 + a2 * c, torch.tensor(a3)])])
    return float(0.5 * dq[0] @ m @ dq[0])


def test_damping_dissipates_energy_and_no_damping_conserves_it() -> None:
    for params, damped in ((P, True), (ArmParams(b11=0.0, b22=0.0, b12=0.0, dt=0.001), False)):
        q, dq = torch.tensor([[0.5, 1.0]]), torch.tensor([[2.0, -1.0]])
        e0 = _kinetic(q, dq, params)
        for _ in range(300):
            q, dq = arm_step(q, dq, torch.zeros_like(q), params)
        e1 = _kinetic(q, dq, params)
        if damped:
            assert e1 < 0.8 * e0
        else:
            assert e1 == pytest.approx(e0, rel=0.02)


def test_episodes() -> None:
    g = torch.Generator().manual_seed(0)
    hold = make_episodes("hold", 8, 30, P, g)
    assert torch.allclose(forward_kinematics(hold.q0, P), hold.target, atol=1e-6)
    assert hold.perturbation.abs().sum() > 0 and hold.perturbation[-1].abs().sum() == 0
    reach = make_episodes("reach", 8, 30, P, g)
    assert reach.perturbation.abs().sum() == 0 and not reach.hold.any()
    mixed = make_episodes("mixed", 8, 30, P, g)
    assert mixed.hold.sum() == 4
    with pytest.raises(ConfigError, match="task"):
        make_episodes("throw", 8, 30, P, g)


def test_rollout_shapes_and_losses() -> None:
    ep = make_episodes("mixed", 6, 12, P, torch.Generator().manual_seed(1))
    ctrl = BilateralController(8, callosum=True)
    x, u = rollout(ctrl, ep, P)
    assert x.shape == (12, 6, 2) and u.shape == (12, 6, 2)
    assert u.abs().max() <= P.max_torque
    assert smoothness_loss(x, u, ep.target).shape == (6,)
    assert stability_loss(x, u, ep.target).shape == (6,)
    z = controller_features(ep.q0, torch.zeros_like(ep.q0), ep.target, P)
    assert z.shape == (6, 10)


def test_training_groups_follow_their_own_loss() -> None:
    g = torch.Generator().manual_seed(0)
    ev = make_episodes("mixed", 32, 10, P, torch.Generator().manual_seed(5))
    torch.manual_seed(0)
    h = Hemisphere(16)

    def held() -> float:
        with torch.no_grad():
            x, u = rollout(h, ev, P)
            return float(stability_loss(x, u, ev.target).mean())

    before = held()
    train_controller(h, [(list(h.parameters()), "stability")], P, steps=10, iters=20, batch=16, lr=1e-2,
                     generator=g)
    assert held() < 0.8 * before
    with pytest.raises(ConfigError, match="loss"):
        train_controller(h, [(list(h.parameters()), "speed")], P, steps=10, iters=1, batch=4)
    with pytest.raises(ConfigError, match="task"):
        train_controller(h, [(list(h.parameters()), "task")], P, steps=10, iters=1, batch=4, task="throw")


def test_a_per_task_gate_learns_to_lean_on_one_hemisphere() -> None:
    """Trained on hold episodes alone by the task objective, the callosal gate moves off 1/2 towards the
    hemisphere that holds better (lower stability loss on fresh hold episodes)."""
    torch.manual_seed(0)
    left, right = Hemisphere(16), Hemisphere(16)
    g = torch.Generator().manual_seed(1)
    train_controller(right, [(list(right.parameters()), "stability")], P, steps=10, iters=30, batch=16, lr=1e-2,
                     generator=g)
    for prm in [*left.parameters(), *right.parameters()]:
        prm.requires_grad_(False)
    gated = GatedBilateral(left, right)
    train_controller(gated, [(list(gated.gate.parameters()), "task")], P, steps=10, iters=40, batch=16, lr=3e-2,
                     generator=g, task="hold")
    ep = make_episodes("hold", 64, 10, P, torch.Generator().manual_seed(2))
    with torch.no_grad():
        z = controller_features(ep.q0, torch.zeros_like(ep.q0), ep.target, P)
        w = float(gated.mix(z).mean())
        loss = {side: float(stability_loss(*rollout(h, ep, P), ep.target).mean())
                for side, h in (("left", left), ("right", right))}
    assert abs(w - 0.5) > 0.2
    assert (w > 0.5) == (loss["left"] < loss["right"])


def test_gated_bilateral_mixing() -> None:
    left, right = Hemisphere(8), Hemisphere(8)
    torch.nn.init.normal_(left.out.weight)
    torch.nn.init.normal_(right.out.weight)
    z = torch.randn(5, 10)
    avg = GatedBilateral(left, right, callosum=False)
    assert torch.allclose(avg(z), 0.5 * (left(z) + right(z)))
    gated = GatedBilateral(left, right, callosum=True)
    w = gated.mix(z)
    assert ((w > 0) & (w < 1)).all()
    assert torch.allclose(gated(z), w * left(z) + (1 - w) * right(z))


class _Still(torch.nn.Module):
    """A controller that never pushes: the passive arm."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.zeros(z.shape[0], 2)


def test_behaviour_measures_of_a_passive_arm() -> None:
    g = torch.Generator().manual_seed(0)
    reach, hold = make_episodes("reach", 16, 20, P, g), make_episodes("hold", 16, 20, P, g)
    m = behaviour(_Still(), reach, hold, P)
    start = float(100 * (forward_kinematics(reach.q0, P) - reach.target).norm(dim=-1).mean())
    assert m["reach_endpoint_cm"] == pytest.approx(start, rel=1e-5)   # never moves
    assert m["reach_path_ratio"] == 1.0 and m["reach_peak_jerk"] < 0.1            # float32 noise / dt^3 only
    assert m["reach_time_s"] <= 20 * P.dt and m["reach_time_s"] > 0  # never settles (unless it starts there)
    assert m["hold_drift_cm"] > 0 and m["hold_var_cm2"] > 0          # the pulse pushes the passive arm away
    with pytest.raises(ConfigError, match="settle_cm"):
        behaviour(_Still(), reach, hold, P, settle_cm=0.0)
