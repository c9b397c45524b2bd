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
