"""Leaky integrate-and-fire neurons as a pure functional step (Norse style): explicit parameter and state
tuples, no hidden globals, vectorised over any leading (batch, neuron) shape.

Current-based synapse and membrane, integrated exactly for piecewise-constant input (exponential Euler):
    i[t+1] = i[t] exp(-dt/tau_syn) + x[t]                        (x: weighted input at step t)
    v[t+1] = v_leak + (v[t] - v_leak) exp(-dt/tau_mem) + i[t+1] (1 - exp(-dt/tau_mem))
a spike when v >= v_th + theta, then v <- v_reset and v is held for t_ref; the dynamic threshold
theta jumps by theta_plus per spike and decays with tau_theta (Diehl & Cook 2015; Hao et al. 2020).
Units: times in ms, voltages and currents in threshold units (v_th=1 by default).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..errors import ConfigError, check_choice, check_range
from .surrogate import SURROGATES, spike_fn


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


class LIFState(NamedTuple):
    """Per-neuron state: membrane ``v``, synaptic current ``i``, remaining refractory time ``ref``, threshold shift ``theta``."""

    v: torch.Tensor
    i: torch.Tensor
    ref: torch.Tensor
    theta: torch.Tensor


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
    return p


def lif_initial_state(shape: tuple[int, ...], p: LIFParameters, like: torch.Tensor,
                      theta: torch.Tensor | None = None) -> LIFState:
    """Resting state (v = v_leak) of ``shape`` on ``like``'s device/dtype; ``theta`` broadcasts if given."""
    z = torch.zeros(shape, device=like.device, dtype=like.dtype)
    th = z.clone() if theta is None else theta.to(like).expand(shape).clone()
    return LIFState(v=z + p.v_leak, i=z.clone(), ref=z.clone(), theta=th)


def decay(tau: float, dt: float) -> float:
    """exp(-dt/tau), with tau=0 meaning instantaneous (0.0)."""
    return math.exp(-dt / tau) if tau > 0 else 0.0


def lif_step(x: torch.Tensor, state: LIFState, p: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """One time step of a population: input current ``x`` (same shape as the state) -> (spikes, new state)."""
    a_syn, a_mem, a_th = decay(p.tau_syn, p.dt), decay(p.tau_mem, p.dt), decay(p.tau_theta, p.dt)
    i = state.i * a_syn + x
    v = p.v_leak + (state.v - p.v_leak) * a_mem + i * (1.0 - a_mem)
    refractory = state.ref > 0
    if p.t_ref > 0:
        v = torch.where(refractory, torch.full_like(v, p.v_reset), v)
    z = spike_fn(v - (p.v_th + state.theta), p.surrogate, p.alpha)
    zr = z.detach() if p.detach_reset else z
    v = v - zr * (v - p.v_reset)
    ref = torch.where(z.detach() > 0, torch.full_like(state.ref, p.t_ref), (state.ref - p.dt).clamp(min=0.0))
    theta = state.theta * a_th + p.theta_plus * z.detach() if p.theta_plus > 0 else state.theta
    return z, LIFState(v, i, ref, theta)


def li_step(x: torch.Tensor, state: LIFState, p: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """Leaky integrator without spikes (a readout): same synapse and membrane, returns the membrane ``v``."""
    a_syn, a_mem = decay(p.tau_syn, p.dt), decay(p.tau_mem, p.dt)
    i = state.i * a_syn + x
    v = p.v_leak + (state.v - p.v_leak) * a_mem + i * (1.0 - a_mem)
    return v, LIFState(v, i, state.ref, state.theta)


def first_spike_time(current: float, p: LIFParameters) -> float:
    """Closed form for constant current ``current`` from rest (no synaptic filter): time at which
    v(t) = I (1 - exp(-t/tau_mem)) reaches v_th; ``inf`` when I <= v_th (v_leak = 0)."""
    target = (p.v_th - p.v_leak) / (current - p.v_leak) if current != p.v_leak else math.inf
    if not 0 < target < 1:
        return math.inf
    return -p.tau_mem * math.log(1.0 - target)
