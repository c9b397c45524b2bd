"""Leaky integrate-and-fire neurons as a pure functional step (Norse style): explicit parameter and state
tuples, no hidden globals, vectorised over any leading (batch, neuron) shape.

Current-based synapse and membrane, integrated exactly for piecewise-constant input (exponential Euler):
    i[t+1] = i[t] exp(-dt/tau_syn) + x[t]                        (x: weighted input at step t)
    v[t+1] = v_leak + (v[t] - v_leak) exp(-dt/tau_mem) + i[t+1] (1 - exp(-dt/tau_mem))
a spike when v >= v_th + theta (ties spike), then the reset: ``zero`` sets v <- v_reset (a hard reset),
``subtract`` sets v <- v - (v_th + theta - v_reset) (a soft reset, keeping the overshoot); v is held at
v_reset for t_ref. The dynamic threshold theta jumps by theta_plus per spike and decays with tau_theta
(Diehl & Cook 2015; Hao et al. 2020). ``tau_syn > 0`` is the current-based (second-order) neuron,
``tau_syn = 0`` the first-order one whose input is the current itself.
Units: times in ms, voltages and currents in threshold units (v_th=1 by default).

Conventions against the peers (each tested in tests/spiking/test_neurons.py on hand-computed cases):
charge, fire, reset in the same step, as SpikingJelly and Norse do (snnTorch applies the reset on the next
step); the threshold comparison is ``>=`` as in SpikingJelly's heaviside (snnTorch and Norse spike only
for ``>``); the input enters scaled by (1 - exp(-dt/tau_mem)) as in Norse's LIF box and SpikingJelly's
LIFNode with decay_input (snnTorch's Leaky adds it unscaled: scale the input by 1/(1 - beta) to match).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..errors import ConfigError, check_choice, check_range
from .surrogate import SURROGATES, spike_fn

RESETS = ("zero", "subtract")


class LIFParameters(NamedTuple):
    """LIF constants. ``tau_syn=0`` means no synaptic filter (input is the current); ``theta_plus=0`` a fixed threshold."""

    dt: float = 1.0
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    v_leak: float = 0.0
    v_th: float = 1.0
    v_reset: float = 0.0
    t_ref: float = 0.0
    theta_plus: float = 0.0
    tau_theta: float = 1e7
    surrogate: str = "fast_sigmoid"
    alpha: float = 10.0
    detach_reset: bool = True
    reset: str = "zero"


class LIFState(NamedTuple):
    """Per-neuron state: membrane ``v``, synaptic current ``i``, remaining refractory time ``ref``, threshold
    shift ``theta`` and the last step's spikes ``z`` (the recurrent input of the next step, as in Norse)."""

    v: torch.Tensor
    i: torch.Tensor
    ref: torch.Tensor
    theta: torch.Tensor
    z: torch.Tensor

    def detach(self) -> LIFState:
        """The same state cut from the autograd graph (truncated BPTT between chunks)."""
        return LIFState(*(t.detach() for t in self))


class LIFCoefficients(NamedTuple):
    """Per-step constants of the update: decays exp(-dt/tau) and the threshold; floats, or tensors (per
    neuron) when the time constants or the threshold are learned."""

    a_mem: float | torch.Tensor
    a_syn: float | torch.Tensor
    v_th: float | torch.Tensor


def check_lif_parameters(p: LIFParameters) -> LIFParameters:
    """Validate ``p``; raise ``ConfigError`` naming the bad field and its allowed range."""
    check_range("dt", p.dt, 0.0, low_inclusive=False)
    check_range("tau_mem", p.tau_mem, 0.0, low_inclusive=False)
    check_range("tau_syn", p.tau_syn, 0.0)
    check_range("t_ref", p.t_ref, 0.0)
    check_range("theta_plus", p.theta_plus, 0.0)
    check_range("tau_theta", p.tau_theta, 0.0, low_inclusive=False)
    check_range("alpha", p.alpha, 0.0, low_inclusive=False)
    if not p.v_th > p.v_reset:
        raise ConfigError(f"v_th={p.v_th!r} must be greater than v_reset={p.v_reset!r}")
    check_choice("surrogate", p.surrogate, SURROGATES)
    check_choice("reset", p.reset, RESETS)
    return p


def lif_initial_state(shape: tuple[int, ...], p: LIFParameters, like: torch.Tensor,
                      theta: torch.Tensor | None = None) -> LIFState:
    """Resting state (v = v_leak) of ``shape`` on ``like``'s device/dtype; ``theta`` broadcasts if given."""
    z = torch.zeros(shape, device=like.device, dtype=like.dtype)
    th = z.clone() if theta is None else theta.to(like).expand(shape).clone()
    return LIFState(v=z + p.v_leak, i=z.clone(), ref=z.clone(), theta=th, z=z.clone())


def decay(tau: float, dt: float) -> float:
    """exp(-dt/tau), with tau=0 meaning instantaneous (0.0)."""
    return math.exp(-dt / tau) if tau > 0 else 0.0


def lif_coefficients(p: LIFParameters, tau_mem: torch.Tensor | None = None, tau_syn: torch.Tensor | None = None,
                     v_th: torch.Tensor | None = None) -> LIFCoefficients:
    """Decays and threshold of ``p``; a tensor given for ``tau_mem``/``tau_syn``/``v_th`` (learned) replaces the float."""
    a_mem = decay(p.tau_mem, p.dt) if tau_mem is None else torch.exp(-p.dt / tau_mem)
    a_syn = decay(p.tau_syn, p.dt) if tau_syn is None else torch.exp(-p.dt / tau_syn)
    return LIFCoefficients(a_mem, a_syn, p.v_th if v_th is None else v_th)


def lif_step(x: torch.Tensor, state: LIFState, p: LIFParameters, k: LIFCoefficients | None = None,
             ) -> tuple[torch.Tensor, LIFState]:
    """One time step of a population: input current ``x`` (same shape as the state) -> (spikes, new state).
    ``k`` overrides the decays and threshold of ``p`` (learned per-neuron values)."""
    k = lif_coefficients(p) if k is None else k
    i = x if isinstance(k.a_syn, float) and k.a_syn == 0.0 else state.i * k.a_syn + x
    v = p.v_leak + (state.v - p.v_leak) * k.a_mem + i * (1.0 - k.a_mem)
    if p.t_ref > 0:
        v = torch.where(state.ref > 0, torch.full_like(v, p.v_reset), v)
    th = k.v_th + state.theta
    z = spike_fn(v - th, p.surrogate, p.alpha)
    zr = z.detach() if p.detach_reset else z
    v = v - zr * (v - p.v_reset) if p.reset == "zero" else v - zr * (th - p.v_reset)
    ref = torch.where(z.detach() > 0, torch.full_like(state.ref, p.t_ref), (state.ref - p.dt).clamp(min=0.0)) \
        if p.t_ref > 0 else state.ref
    theta = state.theta * decay(p.tau_theta, p.dt) + p.theta_plus * z.detach() if p.theta_plus > 0 else state.theta
    return z, LIFState(v, i, ref, theta, z)


def li_step(x: torch.Tensor, state: LIFState, p: LIFParameters, k: LIFCoefficients | None = None,
            ) -> tuple[torch.Tensor, LIFState]:
    """Leaky integrator without spikes (a readout): same synapse and membrane, returns the membrane ``v``."""
    k = lif_coefficients(p) if k is None else k
    i = x if isinstance(k.a_syn, float) and k.a_syn == 0.0 else state.i * k.a_syn + x
    v = p.v_leak + (state.v - p.v_leak) * k.a_mem + i * (1.0 - k.a_mem)
    return v, LIFState(v, i, state.ref, state.theta, state.z)


def first_spike_time(current: float, p: LIFParameters) -> float:
    """Closed form for constant current ``current`` from rest (no synaptic filter): time at which
    v(t) = I (1 - exp(-t/tau_mem)) reaches v_th; ``inf`` when I <= v_th (v_leak = 0)."""
    target = (p.v_th - p.v_leak) / (current - p.v_leak) if current != p.v_leak else math.inf
    if not 0 < target < 1:
        return math.inf
    return -p.tau_mem * math.log(1.0 - target)
