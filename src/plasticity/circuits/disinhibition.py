"""Excitatory/inhibitory microcircuit whose top-down dis-inhibition sets the sign of plasticity.

Rossbroich & Zenke (NeurIPS 2023): an excitatory neuron E and its interneuron I,
``τ u̇_E = −u_E + d − w_IE f_I(u_I)``, ``τ_I u̇_I = −u_I + w_EI f_E(u_E) − t`` where ``d`` is the
feedforward drive and ``t`` the top-down input onto the interneuron (``t = α(target − r_E)`` for a
target rate). A feedforward synapse x → E changes by ``Δw = x (w_EI r_E − f_I⁻¹(r_I)) f_E'(u_E)``: the
neuron compares its own rate with the rate its inhibition "reports". At the settled state the bracket
equals ``t`` (exact inverse), so dis-inhibition (t > 0) gives LTP and extra inhibition LTD; with the
linear approximation ``f_I⁻¹(r) ≈ θ + δ r`` and no top-down input the rule is BCM-like.
All operations are elementwise over tensors of any shape (batch x neurons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import check_choice, check_range

INVERSES = ("exact", "linear")


@dataclass(frozen=True)
class SoftReLU:
    """``f(u) = scale · softplus(sharpness (u − shift)) / sharpness`` with its derivative and exact inverse."""

    scale: float = 1.0
    sharpness: float = 1.0
    shift: float = 3.0

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return self.scale * F.softplus(self.sharpness * (u - self.shift)) / self.sharpness

    def deriv(self, u: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.sigmoid(self.sharpness * (u - self.shift))

    def inv(self, r: torch.Tensor) -> torch.Tensor:
        """Exact inverse for r > 0 (clamped at 1e-30): ``shift + log(expm1(z)) / sharpness``, z = sharpness r / scale."""
        z = (self.sharpness * r / self.scale).clamp_min(1e-30)
        log_expm1 = torch.where(z > 20, z + torch.log(-torch.expm1(-z.clamp_min(20))), torch.log(torch.expm1(z.clamp_max(20))))
        return self.shift + log_expm1 / self.sharpness


@dataclass(frozen=True)
class Relu:
    """Rectified-linear excitatory transfer (derivative 1 where u > 0)."""

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return u.clamp_min(0)

    def deriv(self, u: torch.Tensor) -> torch.Tensor:
        return (u > 0).to(u.dtype)


@dataclass
class EIMicrocircuit:
    """One E-I pair per neuron, integrated by Euler steps, plus its plasticity rule.

    ``alpha`` is the gain of the top-down error ``α(target − r_E)`` onto the interneuron; ``inverse`` picks
    how E reads its inhibition (``exact`` f_I⁻¹, or ``linear`` θ + δ r_I, the paper's fitted approximation).
    """

    act_e: object = field(default_factory=SoftReLU)
    act_i: object = field(default_factory=SoftReLU)
    w_ie: float = 1.0
    w_ei: float = 1.0
    alpha: float = 5.0
    tau_i: float = 1.0
    dt: float = 0.02
    steps: int = 600
    inverse: str = "exact"
    theta: float = 1.5
    delta: float = 1.5

    def __post_init__(self) -> None:
        check_choice("inverse", self.inverse, INVERSES)
        check_range("dt", self.dt, 0.0, 1.0, low_inclusive=False)
        check_range("steps", self.steps, 1)
        check_range("tau_i", self.tau_i, 0.0, low_inclusive=False)
        check_range("alpha", self.alpha, 0.0)

    def settle(self, drive: torch.Tensor, target: torch.Tensor | float | None = None,
               topdown: torch.Tensor | None = None, u0: tuple[torch.Tensor, torch.Tensor] | None = None,
               steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Integrate to the (approximate) fixed point; returns (u_E, u_I).

        Top-down input is ``alpha (target − r_E)`` if ``target`` is given (closed loop), plus ``topdown`` if given.
        """
        if u0 is None:
            u_e, u_i = torch.zeros_like(drive), torch.zeros_like(drive)
        else:
            u_e, u_i = u0[0].clone(), u0[1].clone()
        for _ in range(self.steps if steps is None else steps):
            r_e = self.act_e(u_e)
            t = torch.zeros_like(drive) if topdown is None else topdown
            if target is not None:
                t = t + self.alpha * (target - r_e)
            du_e = -u_e + drive - self.w_ie * self.act_i(u_i)
            du_i = (-u_i + self.w_ei * r_e - t) / self.tau_i
            u_e, u_i = u_e + self.dt * du_e, u_i + self.dt * du_i
        return u_e, u_i

    def read_inhibition(self, r_i: torch.Tensor) -> torch.Tensor:
        """The E neuron's estimate of the interneuron's potential from its rate (exact or linear inverse)."""
        if self.inverse == "exact":
            return self.act_i.inv(r_i)
        return self.theta + self.delta * r_i

    def plasticity(self, u_e: torch.Tensor, u_i: torch.Tensor) -> torch.Tensor:
        """Postsynaptic factor ``(w_EI r_E − f_I⁻¹(r_I)) f_E'(u_E)``; Δw = η · pre · this."""
        return (self.w_ei * self.act_e(u_e) - self.read_inhibition(self.act_i(u_i))) * self.act_e.deriv(u_e)

    def weight_change(self, pre: torch.Tensor, drive: torch.Tensor, target: torch.Tensor | float | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Single-synapse rule: settle with ``drive`` (and ``target``), return (Δw, r_E) elementwise."""
        u_e, u_i = self.settle(drive, target)
        return pre * self.plasticity(u_e, u_i), self.act_e(u_e)

    def balanced_drive(self, a: torch.Tensor) -> torch.Tensor:
        """Drive whose open-loop fixed point is u_E = a (so a rate network's pre-activation is E's potential)."""
        return a + self.w_ie * self.act_i(self.w_ei * self.act_e(a))


def single_synapse_curve(circuit: EIMicrocircuit, drives: torch.Tensor, target: float | None,
                         pre: float | None = None) -> dict[str, torch.Tensor]:
    """Weight change of one synapse vs the postsynaptic rate, sweeping the input x = drive (Fig. 3 of the paper).

    The presynaptic rate is the drive itself (``pre=None``, one synapse of weight 1) or a constant.
    Returns ``rate_open`` (rate without top-down input), ``rate`` (settled, closed loop) and ``dw``.
    """
    pre_t = drives if pre is None else torch.full_like(drives, float(pre))
    u_e0, _ = circuit.settle(drives, None)
    dw, rate = circuit.weight_change(pre_t, drives, target)
    return {"drive": drives, "rate_open": circuit.act_e(u_e0), "rate": rate, "dw": dw}


# ---------------------------------------------------------------------------------------------------------
# Closed-loop network (Rossbroich & Zenke 2023, reference fmi-basel/disinhibitory-control): every hidden unit is
# an E-I pair, the whole network settles as one dynamical system, and a leaky PI controller feeds the output
# error back top-down onto the interneurons through Jacobian-derived weights.
# ---------------------------------------------------------------------------------------------------------

CL_INVERSES = ("exact", "lin-thresh", "taylor")
FEEDBACKS = ("jacobian", "mean-jacobian")


@dataclass(frozen=True)
class LeakyPI:
    """Leaky proportional-integral controller (reference ``src/core/controller.py``, ``leaky-pi.yaml``).

    ``c = k_i c_int + k_p e`` and ``tau dc_int/dt = e − leak c_int`` with e the output error (target − ŷ for MSE,
    target − softmax(ŷ) for cross-entropy). At rest ``c = (k_p + k_i / leak) e``. Times are in seconds.
    """

    k_p: float = 0.2
    k_i: float = 0.4
    leak: float = 1.0
    tau: float = 0.1

    def __post_init__(self) -> None:
        check_range("k_p", self.k_p, 0.0, low_inclusive=False)
        check_range("k_i", self.k_i, 0.0, low_inclusive=False)
        check_range("leak", self.leak, 0.0)
        check_range("tau", self.tau, 0.0, low_inclusive=False)

    def control(self, e: torch.Tensor, c_int: torch.Tensor) -> torch.Tensor:
        return self.k_i * c_int + self.k_p * e

    def derivative(self, e: torch.Tensor, c_int: torch.Tensor) -> torch.Tensor:
        return (e - self.leak * c_int) / self.tau


class EISteadyState(torch.nn.Module):
    """Open-loop rate of an E-I pair as an MLP activation: solves ``u_E + f_I(f_E(u_E)) = d``, returns f_E(u_E).

    This is the input-output map of the reference's Dale network without top-down input (E inhibited by its own
    interneuron, ``w_EI = w_IE = 1``). Newton from u = d converges monotonically (the left side is increasing and
    convex); one last differentiable Newton step gives autograd the implicit derivative ``1 / (1 + f_I' f_E')``.
    """

    def __init__(self, act_e: object | None = None, act_i: object | None = None, iters: int = 30) -> None:
        super().__init__()
        self.act_e = act_e if act_e is not None else SoftReLU(shift=0.0)
        self.act_i = act_i if act_i is not None else SoftReLU(shift=0.0)
        self.iters = int(check_range("iters", iters, 1))

    def _newton(self, u: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        r = self.act_e(u)
        g = u + self.act_i(r) - d
        slope = 1.0 + self.act_i.deriv(r) * self.act_e.deriv(u)
        return u - g / slope

    def solve(self, d: torch.Tensor) -> torch.Tensor:
        """The excitatory potential u_E at the open-loop fixed point (no autograd)."""
        with torch.no_grad():
            u, d = d.detach().clone(), d.detach()
            tol = 1e-6 if d.dtype == torch.float64 else 1e-5
            for _ in range(self.iters):
                new = self._newton(u, d)
                done = bool((new - u).abs().max() <= tol * (1.0 + float(d.abs().max()))) if d.numel() else True
                u = new
                if done:
                    break
        return u

    def potential(self, d: torch.Tensor) -> torch.Tensor:
        """u_E with the implicit-function gradient with respect to d."""
        return self._newton(self.solve(d), d)

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return self.act_e(self.potential(d))


def ei_mlp(sizes: list[int], act_e: object | None = None, act_i: object | None = None) -> torch.nn.Module:
    """An ``MLP`` whose hidden units are E-I pairs at their open-loop fixed point (the reference's Dale net).

    Default transfer functions are the reference's soft-ReLU (scale 1, sharpness 1, shift 0) for E and I.
    """
    from ..models.mlp import MLP

    model = MLP(sizes)
    model.act = EISteadyState(act_e, act_i)
    model.activation = "ei-steady-state"
    return model


@dataclass
class ClosedLoopState:
    """Per-sample state of the closed-loop network: E and I potentials per hidden layer, readout, controller."""

    u_e: list[torch.Tensor]
    u_i: list[torch.Tensor]
    y: torch.Tensor
    c_int: torch.Tensor
    steps: int = 0
    residual: float = 0.0


@dataclass
class ClosedLoopNetwork:
    """The reference's closed-loop E-I network around given feedforward weights (``[(W, b), ...]``, readout last).

    Dale (``dale=True``, reference ``src/models/dale/vf.py``), per hidden layer l with drive d_l = W_l r_{l-1} + b_l:
    ``τ_E u̇_E = −u_E + d_l − f_I(u_I)``, ``τ_I u̇_I = −u_I + f_E(u_E) − B_l c``; readout ``τ_E ẏ = −y + W r_L + b + c``;
    the controller integrates the output error. ``balanced=True`` adds f_I(f_E(d_l)) to the drive, so a plain
    MLP's pre-activation is the E cell's open-loop potential (used when the model is not an ``ei_mlp``).
    Non-Dale (``dale=False``, reference ``src/models/nondale/vf.py``): ``τ u̇ = −u + d_l + B_l c``, rate f_E(u).
    Integration is forward Euler with step ``dt`` (default 4 ms, below τ_I) up to ``t_max`` seconds, stopping once
    every state variable is within ``tol`` of its instantaneous target (the reference uses adaptive Tsit5 with a steady-state event).
    """

    params: list[tuple[torch.Tensor, torch.Tensor | None]]
    act_e: object
    act_i: object
    controller: LeakyPI = field(default_factory=LeakyPI)
    dale: bool = True
    balanced: bool = False
    tau_e: float = 20e-3
    tau_i: float = 5e-3
    tau: float = 10e-3
    dt: float = 4e-3
    t_max: float = 2.0
    tol: float = 1e-3
    check_every: int = 10

    def __post_init__(self) -> None:
        for name in ("tau_e", "tau_i", "tau", "dt", "t_max", "tol"):
            check_range(name, getattr(self, name), 0.0, low_inclusive=False)
        fastest = min(self.tau_e, self.tau_i, self.controller.tau) if self.dale else min(self.tau, self.controller.tau)
        check_range("dt", self.dt, 0.0, fastest, low_inclusive=False)

    @property
    def n_hidden(self) -> int:
        return len(self.params) - 1

    @staticmethod
    def _linear(h: torch.Tensor, wb: tuple[torch.Tensor, torch.Tensor | None]) -> torch.Tensor:
        w, b = wb
        return h @ w.t() if b is None else torch.addmm(b, h, w.t())

    def _drive(self, a: torch.Tensor) -> torch.Tensor:
        return a + self.act_i(self.act_e(a)) if self.dale and self.balanced else a

    # -- open loop ---------------------------------------------------------------------------------------
    def open_loop(self, x: torch.Tensor, newton_iters: int = 30) -> ClosedLoopState:
        """Fixed point without top-down input, solved layer by layer (Newton for each Dale E-I pair)."""
        h, u_e, u_i = x, [], []
        solver = EISteadyState(self.act_e, self.act_i, newton_iters)
        for wb in self.params[:-1]:
            a = self._linear(h, wb)
            if self.dale:
                ue = a if self.balanced else solver.solve(a)
                r = self.act_e(ue)
                u_e.append(ue)
                u_i.append(r.clone())
            else:
                r = self.act_e(a)
                u_e.append(a)
                u_i.append(torch.zeros_like(a))
            h = r
        y = self._linear(h, self.params[-1])
        return ClosedLoopState(u_e, u_i, y, torch.zeros_like(y))

    # -- feedback weights ----------------------------------------------------------------------------------
    def feedback_weights(self, state: ClosedLoopState, mode: str = "jacobian", norm: float = 1.0) -> list[torch.Tensor]:
        """Top-down weights B_l (batch, n_out, n_l) from the network's Jacobian at ``state`` (reference
        ``calculate_jacobian`` + ``modify_fb_weights``): ``∂ŷ/∂u_E^l = W_out D_L W_L ⋯ W_{l+1} D_l`` with
        D = diag f_E'(u_E), times f_I'(u_I^l) per column (Dale); ``mean-jacobian`` averages over the batch;
        ``norm > 0`` rescales each sample's matrix to that Frobenius norm."""
        check_choice("feedback", mode, FEEDBACKS)
        derivs = [self.act_e.deriv(u) for u in state.u_e]
        m = self.params[-1][0].unsqueeze(0) * derivs[-1].unsqueeze(1)          # (B, n_out, n_L)
        jac = [m]
        for layer in range(self.n_hidden - 1, 0, -1):
            m = (m @ self.params[layer][0]) * derivs[layer - 1].unsqueeze(1)
            jac.insert(0, m)
        out = []
        for layer, j in enumerate(jac):
            if self.dale:
                j = j * self.act_i.deriv(state.u_i[layer]).unsqueeze(1)
            if mode == "mean-jacobian":
                j = j.mean(0, keepdim=True).expand_as(j)
            if norm > 0:
                j = j * (norm / j.flatten(1).norm(dim=1).clamp_min(1e-12)).view(-1, 1, 1)
            out.append(j)
        return out

    # -- closed loop ---------------------------------------------------------------------------------------
    def error(self, y: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
        """Controller error: target − softmax(y) for cross-entropy, target − y for MSE (reference ``losses.py``)."""
        return target - torch.softmax(y, 1) if kind == "cross_entropy" else target - y

    def settle(self, x: torch.Tensor, target: torch.Tensor, fb: list[torch.Tensor], start: ClosedLoopState,
               kind: str = "cross_entropy") -> ClosedLoopState:
        """Integrate the closed loop from ``start`` (the open-loop state) until it rests or ``t_max`` passes."""
        ctrl, dt = self.controller, self.dt
        u_e = [u.clone() for u in start.u_e]
        u_i = [u.clone() for u in start.u_i]
        y, c_int = start.y.clone(), start.c_int.clone()
        a0 = self._linear(x, self.params[0])                                    # the input drive is constant
        n_steps = max(1, round(self.t_max / dt))
        residual, step = float("inf"), 0
        for step in range(1, n_steps + 1):
            e = self.error(y, target, kind)
            c = ctrl.control(e, c_int)
            gaps = []
            h = None
            for layer in range(self.n_hidden):
                a = a0 if layer == 0 else self._linear(h, self.params[layer])
                top = torch.bmm(c.unsqueeze(1), fb[layer]).squeeze(1)
                if self.dale:
                    h = self.act_e(u_e[layer])
                    ge = self._drive(a) - self.act_i(u_i[layer]) - u_e[layer]
                    gi = h - top - u_i[layer]
                    u_e[layer] = u_e[layer] + (dt / self.tau_e) * ge
                    u_i[layer] = u_i[layer] + (dt / self.tau_i) * gi
                    gaps += [ge, gi]
                else:
                    ge = a + top - u_e[layer]
                    h = self.act_e(u_e[layer])
                    u_e[layer] = u_e[layer] + (dt / self.tau) * ge
                    gaps.append(ge)
            gy = self._linear(h, self.params[-1]) + c - y
            gc = e - ctrl.leak * c_int
            y = y + (dt / (self.tau_e if self.dale else self.tau)) * gy
            c_int = c_int + (dt / ctrl.tau) * gc
            if step % self.check_every == 0 or step == n_steps:
                gaps += [gy, gc]
                residual = max(float(g.abs().max()) for g in gaps)
                if residual < self.tol:
                    break
        return ClosedLoopState(u_e, u_i, y, c_int, steps=step, residual=residual)

    # -- plasticity ----------------------------------------------------------------------------------------
    def hidden_errors(self, x: torch.Tensor, state: ClosedLoopState, inverse: str = "exact",
                      y0: list[torch.Tensor] | float | None = None) -> list[torch.Tensor]:
        """Per-unit error whose outer product with the presynaptic rate is the weight gradient (reference
        ``ExactTrainer``/``AvgInhTaylorApproxTrainer``): Dale ``(f_I⁻¹(r_I) − f_E(u_E)) f_E'(u_E)`` with the exact
        inverse (= u_I) or its first-order Taylor expansion around ``y0`` (per-unit rates, or a number). At rest it
        equals −(top-down input) · f_E'(u_E): a Hebbian term gated by inhibition. Non-Dale (ours; the reference has
        no trainer for it): ``d_l − u`` = −(top-down input), so with weak control it is the backprop gradient."""
        check_choice("inverse", inverse, CL_INVERSES)
        out, h = [], x
        for layer in range(self.n_hidden):
            u = state.u_e[layer]
            if self.dale:
                if inverse == "exact":
                    read = state.u_i[layer]
                else:
                    r_i = self.act_i(state.u_i[layer])
                    ref = y0[layer] if isinstance(y0, list) else torch.full_like(r_i, 1.0 if y0 is None else y0)
                    inv0 = self.act_i.inv(ref)
                    slope = 1.0 / self.act_i.deriv(inv0)
                    read = inv0 - ref * slope + slope * r_i
                err = (read - self.act_e(u)) * self.act_e.deriv(u)
            else:                  # the feedback B_l c already carries f'(u): no second factor, so weak control = BP
                err = self._linear(h, self.params[layer]) - u
            out.append(err)
            h = self.act_e(u)
        return out

    def gradients(self, x: torch.Tensor, state: ClosedLoopState, errors: list[torch.Tensor]
                  ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(dW, db) per layer, batch-averaged: hidden ``err_l ⊗ r_{l-1}`` and readout ``(W r_L + b − y) ⊗ r_L``,
        all at the closed-loop rest state (reference ``_grads_surrfunc``); the readout's error is −c at rest."""
        rates = [x] + [self.act_e(u) for u in state.u_e]
        errs = [*errors, self._linear(rates[-1], self.params[-1]) - state.y]
        batch = x.shape[0]
        return [(e.t() @ r / batch, e.mean(0)) for e, r in zip(errs, rates, strict=True)]
