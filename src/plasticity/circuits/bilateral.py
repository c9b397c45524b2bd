"""Bilateral motor control: two controller "hemispheres" driving a simulated 2-link planar arm
(after "Left/right brain, human motor control and the implications for robotics", 2024).

The arm is the standard two-joint shoulder/elbow model (Li & Todorov 2004 parameters) integrated with
semi-implicit Euler, fully differentiable and batched, so controllers are trained by backprop through time.
Each hemisphere is a small feedback controller (state + target -> joint torques). A ``BilateralController``
sums two hemispheres' torques; with ``callosum=True`` each hemisphere's hidden layer also receives the other's
(a corpus-callosum connection). The two task losses model the lateralisation hypothesis: one hemisphere
optimises trajectory smoothness/efficiency, the other positional stability.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError, check_choice


@dataclass(frozen=True)
class ArmParams:
    """Two-link arm: masses (kg), lengths (m), centre-of-mass distances (m), inertias (kg m^2), damping."""

    m1: float = 1.4
    m2: float = 1.1
    l1: float = 0.30
    l2: float = 0.33
    c1: float = 0.11
    c2: float = 0.16
    i1: float = 0.025
    i2: float = 0.045
    b11: float = 0.05
    b22: float = 0.05
    b12: float = 0.025
    dt: float = 0.01
    max_torque: float = 10.0


def forward_kinematics(q: torch.Tensor, p: ArmParams) -> torch.Tensor:
    """Hand position (..., 2) from joint angles q (..., 2)."""
    q1, q12 = q[..., 0], q[..., 0] + q[..., 1]
    return torch.stack([p.l1 * torch.cos(q1) + p.l2 * torch.cos(q12), p.l1 * torch.sin(q1) + p.l2 * torch.sin(q12)], -1)


def arm_step(q: torch.Tensor, dq: torch.Tensor, u: torch.Tensor, p: ArmParams) -> tuple[torch.Tensor, torch.Tensor]:
    """One semi-implicit Euler step of M(q) ddq + C(q, dq) + B dq = u, batched over the leading dim."""
    a1 = p.i1 + p.i2 + p.m2 * p.l1**2 + p.m1 * p.c1**2 + p.m2 * p.c2**2
    a2 = p.m2 * p.l1 * p.c2
    a3 = p.i2 + p.m2 * p.c2**2
    c, s = torch.cos(q[:, 1]), torch.sin(q[:, 1])
    m11, m12, m22 = a1 + 2 * a2 * c, a3 + a2 * c, torch.full_like(c, a3)
    cor = torch.stack([-dq[:, 1] * (2 * dq[:, 0] + dq[:, 1]), dq[:, 0] ** 2], -1) * (a2 * s)[:, None]
    damp = torch.stack([p.b11 * dq[:, 0] + p.b12 * dq[:, 1], p.b12 * dq[:, 0] + p.b22 * dq[:, 1]], -1)
    rhs = u - cor - damp
    det = m11 * m22 - m12 * m12
    ddq = torch.stack([m22 * rhs[:, 0] - m12 * rhs[:, 1], -m12 * rhs[:, 0] + m11 * rhs[:, 1]], -1) / det[:, None]
    dq = dq + p.dt * ddq
    return q + p.dt * dq, dq


def controller_features(q: torch.Tensor, dq: torch.Tensor, target: torch.Tensor, p: ArmParams) -> torch.Tensor:
    """Inputs of a hemisphere: joint angles (cos, sin), velocities, hand position and hand-to-target error."""
    x = forward_kinematics(q, p)
    return torch.cat([torch.cos(q), torch.sin(q), 0.1 * dq, 3 * x, 10 * (target - x)], -1)


N_FEATURES = 10


class Hemisphere(nn.Module):
    """One feedback controller: features -> tanh hidden -> torques in (-max_torque, max_torque)."""

    def __init__(self, hidden: int = 64, max_torque: float = 10.0) -> None:
        super().__init__()
        self.inp = nn.Linear(N_FEATURES, hidden)
        self.out = nn.Linear(hidden, 2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.max_torque = max_torque

    def hidden(self, z: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        pre = self.inp(z)
        return torch.tanh(pre if extra is None else pre + extra)

    def torque(self, h: torch.Tensor) -> torch.Tensor:
        return self.max_torque * torch.tanh(self.out(h))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.torque(self.hidden(z))


class BilateralController(nn.Module):
    """Left + right hemisphere; torques add. ``callosum`` couples hidden layers (each gets the other's)."""

    def __init__(self, hidden: int = 64, max_torque: float = 10.0, callosum: bool = True) -> None:
        super().__init__()
        self.left = Hemisphere(hidden, max_torque / 2)
        self.right = Hemisphere(hidden, max_torque / 2)
        self.callosum = callosum
        if callosum:
            self.l_from_r = nn.Linear(hidden, hidden, bias=False)
            self.r_from_l = nn.Linear(hidden, hidden, bias=False)
            nn.init.normal_(self.l_from_r.weight, std=0.1 / hidden**0.5)
            nn.init.normal_(self.r_from_l.weight, std=0.1 / hidden**0.5)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hl, hr = self.left.hidden(z), self.right.hidden(z)
        if self.callosum:
            hl, hr = self.left.hidden(z, self.l_from_r(hr)), self.right.hidden(z, self.r_from_l(hl))
        return self.left.torque(hl) + self.right.torque(hr)


class GatedBilateral(nn.Module):
    """Two (typically pre-trained, frozen) specialist hemispheres whose torques are mixed,
    u = w u_left + (1 - w) u_right. With ``callosum`` the weight w = sigmoid(gate(features, both hidden layers))
    is read out from both hemispheres, so the pair learns from the sensed state which one to trust; without it
    the hemispheres cannot communicate and w = 1/2."""

    def __init__(self, left: Hemisphere, right: Hemisphere, hidden: int = 16, callosum: bool = True) -> None:
        super().__init__()
        self.left, self.right, self.callosum = left, right, callosum
        width = N_FEATURES + left.inp.out_features + right.inp.out_features
        self.gate = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1)) if callosum else None

    def _weight(self, z: torch.Tensor, hl: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.gate is None:
            return torch.full_like(z[:, :1], 0.5)
        return torch.sigmoid(self.gate(torch.cat([z, hl, hr], -1)))

    def mix(self, z: torch.Tensor) -> torch.Tensor:
        """Weight given to the left hemisphere for features z (B, 1)."""
        return self._weight(z, self.left.hidden(z), self.right.hidden(z))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hl, hr = self.left.hidden(z), self.right.hidden(z)
        w = self._weight(z, hl, hr)
        return w * self.left.torque(hl) + (1 - w) * self.right.torque(hr)


@dataclass
class Episodes:
    """A batch of episodes: start state, target, external torque per step (T, B, 2), and which are holds."""

    q0: torch.Tensor
    target: torch.Tensor
    perturbation: torch.Tensor
    hold: torch.Tensor
    load: torch.Tensor | None = None  # constant endpoint force (B, 2) in N, mapped to joint torques by J(q)^T


def make_episodes(task: str, batch: int, steps: int, p: ArmParams, generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu", perturb: float = 4.0, load: float = 0.0) -> Episodes:
    """``reach``: random start posture to a random reachable target, no perturbation. ``hold``: start at the
    target at rest, a random constant torque pulse (|tau| <= perturb Nm) during the first third, and with ``load``
    a constant endpoint force uniform in [-load, load] N per axis for the whole episode (the reference's
    HoldPositionWithLoads). ``mixed``: half each."""
    check_choice("task", task, ("reach", "hold", "mixed"))
    if steps < 6:
        raise ConfigError(f"steps={steps} is out of range; allowed: [6, inf)")
    lo = torch.tensor([0.2, 0.6], device=device)
    hi = torch.tensor([1.4, 2.0], device=device)

    def posture(n: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, 2, generator=generator, device=device)

    q_t = posture(batch)
    if task == "reach":
        hold = torch.zeros(batch, dtype=torch.bool, device=device)
    elif task == "hold":
        hold = torch.ones(batch, dtype=torch.bool, device=device)
    else:
        hold = torch.arange(batch, device=device) % 2 == 1
    q0 = torch.where(hold[:, None], q_t, posture(batch))
    pulse = perturb * (2 * torch.rand(batch, 2, generator=generator, device=device) - 1)
    on = torch.zeros(steps, 1, 1, device=device)
    on[1: 1 + steps // 3] = 1.0
    pert = on * (pulse * hold[:, None])[None]
    force = None
    if load > 0:
        force = load * (2 * torch.rand(batch, 2, generator=generator, device=device) - 1) * hold[:, None]
    return Episodes(q0, forward_kinematics(q_t, p), pert, hold, force)


def jacobian(q: torch.Tensor, p: ArmParams) -> torch.Tensor:
    """d(hand position)/d(joint angles) (B, 2, 2): maps an endpoint force F to joint torques J^T F."""
    s1, s12 = torch.sin(q[:, 0]), torch.sin(q[:, 0] + q[:, 1])
    c1, c12 = torch.cos(q[:, 0]), torch.cos(q[:, 0] + q[:, 1])
    return torch.stack([torch.stack([-p.l1 * s1 - p.l2 * s12, -p.l2 * s12], -1),
                        torch.stack([p.l1 * c1 + p.l2 * c12, p.l2 * c12], -1)], -2)


def rollout(controller: nn.Module, ep: Episodes, p: ArmParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulate; returns hand positions (T, B, 2) and controller torques (T, B, 2)."""
    x, u, _ = rollout_activity(controller, ep, p, record=False)
    return x, u


def rollout_activity(controller: nn.Module, ep: Episodes, p: ArmParams, record: bool = True
                     ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """:func:`rollout` plus, with ``record``, each hidden layer's activity over time [(T, B, width)] as the
    controller leaves it in ``controller.activity`` after every call (empty for controllers without it)."""
    q, dq = ep.q0, torch.zeros_like(ep.q0)
    xs, us, acts = [], [], []
    for t in range(ep.perturbation.shape[0]):
        u = controller(controller_features(q, dq, ep.target, p))
        tau = u + ep.perturbation[t]
        if ep.load is not None:
            tau = tau + (jacobian(q, p).transpose(1, 2) @ ep.load[:, :, None])[:, :, 0]
        q, dq = arm_step(q, dq, tau, p)
        xs.append(forward_kinematics(q, p))
        us.append(u)
        if record:
            acts.append(getattr(controller, "activity", []))
    layers = [torch.stack([a[k] for a in acts]) for k in range(len(acts[0]))] if acts and acts[0] else []
    return torch.stack(xs), torch.stack(us), layers


def smoothness_loss(x: torch.Tensor, u: torch.Tensor, target: torch.Tensor, effort: float = 1e-3,
                    jerk: float = 1e-2, final_frac: float = 0.2) -> torch.Tensor:
    """Efficiency/smoothness objective per episode (B,): squared endpoint error over the last ``final_frac`` of
    the movement + effort * mean |u|^2 + jerk * mean |du|^2 (torque change per step)."""
    k = max(int(final_frac * x.shape[0]), 1)
    err = ((x[-k:] - target) ** 2).sum(-1).mean(0)
    du = u[1:] - u[:-1]
    return 100 * err + effort * (u**2).sum(-1).mean(0) + jerk * (du**2).sum(-1).mean(0)


def stability_loss(x: torch.Tensor, u: torch.Tensor, target: torch.Tensor, effort: float = 1e-5) -> torch.Tensor:
    """Positional-stability objective per episode (B,): squared hand-to-target distance at every step."""
    return 100 * ((x - target) ** 2).sum(-1).mean(0) + effort * (u**2).sum(-1).mean(0)


def reference_left_loss(x: torch.Tensor, u: torch.Tensor, target: torch.Tensor, acts: list[torch.Tensor],
                        p: ArmParams) -> torch.Tensor:
    """The reference's dominant-hemisphere loss per episode (B,) (Cerenaut/bilateral-motor-control, example.ipynb
    ``loss_weights1``): 5 x mean |hand - target| (MotorNet PositionLoss, L1, every step) + 0.02 x, per hidden
    layer, mean h^2 + 0.05 mean (dh/dt)^2 (MotorNet L2xDxRegularizer, deriv_weight 0.05)."""
    out = 5 * (x - target).abs().mean((0, 2))
    for h in acts:
        dh = (h[1:] - h[:-1]) / p.dt
        out = out + 0.02 * ((h**2).mean((0, 2)) + 0.05 * (dh**2).mean((0, 2)))
    return out


def reference_right_loss(x: torch.Tensor, u: torch.Tensor, target: torch.Tensor, acts: list[torch.Tensor],
                         p: ArmParams) -> torch.Tensor:
    """The reference's non-dominant loss per episode (B,) (``loss_weights2``): 5 x mean (10 (hand - target))^2 / 10
    (its PositionLoss2, L2, every step) + 2 x mean squared drive (its muscle excitation in [0, 1]; here the
    torque over ``max_torque``)."""
    return 5 * 10 * ((x - target) ** 2).mean((0, 2)) + 2 * ((u / p.max_torque) ** 2).mean((0, 2))


LOSSES = {"smoothness": smoothness_loss, "stability": stability_loss}
# the reference's pair, which also read hidden activity; "ref_shared": half of each, as its shared layers descend
REF_LOSSES = {"ref_left": reference_left_loss, "ref_right": reference_right_loss,
              "ref_shared": lambda *a: 0.5 * (reference_left_loss(*a) + reference_right_loss(*a))}


def named_loss(name: str, x: torch.Tensor, u: torch.Tensor, target: torch.Tensor, acts: list[torch.Tensor],
               p: ArmParams) -> torch.Tensor:
    """A training loss of :data:`LOSSES` or :data:`REF_LOSSES` by name, per episode (B,)."""
    if name in REF_LOSSES:
        return REF_LOSSES[name](x, u, target, acts, p)
    return LOSSES[name](x, u, target)


def behaviour(controller: nn.Module, ep_reach: Episodes, ep_hold: Episodes, p: ArmParams,
              settle_cm: float = 2.0, hold_controller: nn.Module | None = None) -> dict[str, float]:
    """Behavioural measures, none of them a training loss, averaged over episodes (all lower-is-better).
    ``hold_controller`` (default ``controller``) drives the hold episodes, for a model trained per task.

    Reach: ``reach_endpoint_cm`` hand-to-target distance at the last step; ``reach_time_s`` movement time, the
    first time after which the hand stays within ``settle_cm`` of the target (the episode length if never);
    ``reach_path_ratio`` hand path length over the straight distance from start to final hand position
    (1 = a straight movement; a hand that does not move counts as 1);
    ``reach_peak_jerk`` max over time of |d³x/dt³| (m/s³, third finite difference). Hold, under the torque
    pulse: ``hold_drift_cm`` distance from the target at the last step; ``hold_var_cm2`` positional variance
    of the hand over the episode (x plus y variance, cm²).
    """
    if settle_cm <= 0:
        raise ConfigError(f"settle_cm={settle_cm} is out of range; allowed: (0, inf)")
    with torch.no_grad():
        xr, _ = rollout(controller, ep_reach, p)
        xh, _ = rollout(controller if hold_controller is None else hold_controller, ep_hold, p)
        x0 = forward_kinematics(ep_reach.q0, p)
        path = torch.cat([x0[None], xr])                                   # (T+1, B, 2)
        dist = (xr - ep_reach.target).norm(dim=-1)                         # (T, B)
        outside = dist > settle_cm / 100
        steps = xr.shape[0]
        # last step outside the band (+1) = settling step; never outside -> 0; outside at the end -> T
        last_out = torch.where(outside.any(0), steps - outside.flip(0).int().argmax(0),
                               torch.zeros_like(dist[0]).int())
        length = (path[1:] - path[:-1]).norm(dim=-1).sum(0)
        chord = (xr[-1] - x0).norm(dim=-1)
        ratio = torch.where(chord > 1e-4, length / chord.clamp_min(1e-4), torch.ones_like(chord))
        jerk = (path[3:] - 3 * path[2:-1] + 3 * path[1:-2] - path[:-3]) / p.dt**3
        return {
            "reach_endpoint_cm": float(100 * dist[-1].mean()),
            "reach_time_s": float((last_out.double() * p.dt).mean()),
            "reach_path_ratio": float(ratio.mean()),
            "reach_peak_jerk": float(jerk.norm(dim=-1).amax(0).mean()),
            "hold_drift_cm": float(100 * (xh[-1] - ep_hold.target).norm(dim=-1).mean()),
            "hold_var_cm2": float(1e4 * xh.var(0).sum(-1).mean()),
        }


REACH_MEASURES = ("reach_endpoint_cm", "reach_time_s", "reach_path_ratio", "reach_peak_jerk")
HOLD_MEASURES = ("hold_drift_cm", "hold_var_cm2")


def train_controller(controller: nn.Module, groups: list[tuple[list[nn.Parameter], str]], p: ArmParams,
                     steps: int, iters: int, batch: int, lr: float = 3e-3, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu", perturb: float = 4.0, task: str = "mixed",
                     load: float = 0.0, clip: float = 0.0) -> list[float]:
    """BPTT training on batches of ``task`` episodes (default mixed reach/hold). Each (params, loss name) group
    descends *its own* loss only, so two hemispheres in one body can pursue different objectives; loss "task"
    scores reach episodes by smoothness and hold episodes by stability; the ``ref_*`` losses are the reference's
    pair (:data:`REF_LOSSES`). ``clip`` > 0 caps each parameter's gradient norm (Keras ``clipnorm``); a controller
    with a ``constrain()`` method gets it called after every step. Returns the summed loss per iteration."""
    check_choice("task", task, ("reach", "hold", "mixed"))
    for _, name in groups:
        check_choice("loss", name, (*LOSSES, *REF_LOSSES, "task"))
    if clip < 0:
        raise ConfigError(f"clip={clip} is out of range; allowed: [0, inf) (0: no clipping)")
    record = any(name in REF_LOSSES for _, name in groups)
    params = [q for ps, _ in groups for q in ps]
    opt = torch.optim.Adam(params, lr=lr)
    hist = []
    for _ in range(iters):
        ep = make_episodes(task, batch, steps, p, generator, device, perturb, load)
        x, u, acts = rollout_activity(controller, ep, p, record)
        opt.zero_grad()
        total = 0.0
        for i, (ps, name) in enumerate(groups):
            if name == "task":      # each episode scored by its own task's objective
                loss = torch.where(ep.hold, stability_loss(x, u, ep.target), smoothness_loss(x, u, ep.target)).mean()
            else:
                loss = named_loss(name, x, u, ep.target, acts, p).mean()
            grads = torch.autograd.grad(loss, ps, retain_graph=i < len(groups) - 1, allow_unused=True)
            for prm, g in zip(ps, grads, strict=True):
                prm.grad = torch.zeros_like(prm) if g is None else g
            total += float(loss.detach())
        if clip > 0:
            for prm in params:
                norm = prm.grad.norm()
                if norm > clip:
                    prm.grad.mul_(clip / norm)
        opt.step()
        if hasattr(controller, "constrain"):
            controller.constrain()
        hist.append(total)
    return hist
