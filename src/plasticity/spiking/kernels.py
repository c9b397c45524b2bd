"""A whole LIF sequence as one autograd node: the forward loop writes every step into preallocated
``[T, B, N]`` buffers without building a graph, and the backward is a hand-written reverse loop, so
forward + backward cost O(T) with a few elementwise kernels per step (3 forward, 1-3 backward).

It computes exactly ``neurons.lif_step`` iterated (exponential Euler, ``>=`` at the threshold, the
reset detached from the graph as ``detach_reset=True``) for fixed time constants and threshold, no
refractory period and no adaptive threshold; ``layers.run_lif`` falls back to the step-by-step autograd
path for everything else. Working in u = v - v_leak removes the leak potential from the recurrence:
    i'[t] = a_syn i'[t-1] + (1 - a_mem) x[t]        (i' = (1 - a_mem) i; i' = (1 - a_mem) x when tau_syn = 0)
    h[t]  = a_mem u[t-1] + i'[t]                      (membrane before the spike)
    z[t]  = h[t] >= th,   th = v_th + theta - v_leak
    u[t]  = h[t] (1 - z[t]) + z[t] (v_reset - v_leak)   (zero)   or   h[t] - z[t] (v_th + theta - v_reset)   (subtract)
Only ``h`` is saved (one float per neuron-step); ``z`` and the surrogate derivative are recomputed from it.
"""

from __future__ import annotations

import torch

from .surrogate import surrogate_grad_


def _th(v_th: float, theta: torch.Tensor | None, v_leak: float) -> float | torch.Tensor:
    return v_th - v_leak if theta is None else theta + (v_th - v_leak)


def lif_sequence_forward(x: torch.Tensor, u: torch.Tensor, i: torch.Tensor, a_mem: float, a_syn: float,
                         th: float | torch.Tensor, r_u: float, reset: str, inplace: bool = False,
                         record: bool = False,
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list, list]:
    """Forward loop without autograd. Returns spikes Z, pre-spike membranes H (written over ``x`` when
    ``inplace``), the final u and i and, with ``record``, lists of u and i after every step."""
    b_mem = 1.0 - a_mem
    i_last = x[-1].clone() if a_syn == 0.0 else None            # first order: i is the last input
    H = x.mul_(b_mem) if inplace else x * b_mem                 # holds i'[t], then h[t] in place
    Z = torch.empty_like(H)
    us: list[torch.Tensor] = []
    is_: list[torch.Tensor] = []
    ip = i * b_mem
    d = th - r_u                                                  # subtract reset: v_th + theta - v_reset
    for t, h in enumerate(H.unbind(0)):
        if a_syn != 0.0:
            ip = torch.add(h, ip, alpha=a_syn)
            torch.add(ip, u, alpha=a_mem, out=h)
        elif record:
            ip = h.clone()
            h.add_(u, alpha=a_mem)
        else:
            h.add_(u, alpha=a_mem)
        z = Z[t]
        torch.ge(h, th, out=z)
        if reset == "zero":
            u = torch.addcmul(h, h, z, value=-1.0)
            if r_u != 0.0:
                u.add_(z, alpha=r_u)
        elif isinstance(d, torch.Tensor):
            u = torch.addcmul(h, z, d, value=-1.0)
        else:
            u = torch.add(h, z, alpha=-d)
        if record:
            us.append(u)
            is_.append(ip / b_mem)
    if i_last is None:
        i_last = ip / b_mem
    return Z, H, u, i_last, us, is_


def lif_sequence_backward(gZ: torch.Tensor | None, gu_T: torch.Tensor | None, gi_T: torch.Tensor | None,
                          H: torch.Tensor, a_mem: float, a_syn: float, th: float | torch.Tensor, reset: str,
                          surrogate: str, alpha: float,
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Reverse loop: gradients of the input currents x, the initial u and the initial i (None: zero).

    gu[t] = a_mem gh[t+1] (gu[T-1] from the final state); gh[t] = gZ[t] s[t] + (1 - z[t]) gu[t] (zero reset,
    1 for subtract, the reset being detached); gi'[t] = gh[t] + a_syn gi'[t+1]; gx[t] = (1 - a_mem) gi'[t]."""
    b_mem = 1.0 - a_mem
    G = surrogate_grad_(H - th, surrogate, alpha)               # dz/dh at every step, one buffer, in place
    G = G.zero_() if gZ is None else G.mul_(gZ)
    T = H.shape[0]
    gh_prev: torch.Tensor | None = None
    gi_prev: torch.Tensor | None = None
    for t in range(T - 1, -1, -1):
        g = G[t]
        carry, sc = (gu_T, 1.0) if t == T - 1 else (gh_prev, a_mem)
        if carry is not None and reset == "zero":          # the reset cuts u's path where the neuron fired
            carry = carry.masked_fill(H[t] >= th, 0.0)
        if a_syn == 0.0:
            if carry is not None:
                g.add_(carry, alpha=sc)
            gh_prev = g
            continue
        gh = g.add(carry, alpha=sc) if carry is not None else g.clone()
        extra, sa = ((gi_T, 1.0 / b_mem) if t == T - 1 else (gi_prev, a_syn))
        if extra is not None:
            torch.add(gh, extra, alpha=sa, out=g)
        else:
            g.copy_(gh)
        gh_prev, gi_prev = gh, g
    assert gh_prev is not None
    g_u0 = gh_prev * a_mem
    g_i0 = gi_prev * (a_syn * b_mem) if gi_prev is not None else None
    gx = G.mul_(b_mem)
    if a_syn == 0.0 and gi_T is not None:
        gx[-1].add_(gi_T)
    return gx, g_u0, g_i0


class LIFSequence(torch.autograd.Function):
    """Autograd node for a whole sequence: inputs (x [T,B,N], u0, i0, theta or None), outputs (spikes, final u,
    final i). ``inplace`` reuses x's buffer for the saved membranes (only for an x nothing else holds)."""

    @staticmethod
    def forward(ctx, x, u0, i0, theta, a_mem, a_syn, v_th, v_leak, v_reset, reset, surrogate, alpha, inplace):  # type: ignore[override]
        th = _th(v_th, theta, v_leak)
        Z, H, u, i_last, _, _ = lif_sequence_forward(x, u0, i0, a_mem, a_syn, th, v_reset - v_leak, reset, inplace)
        ctx.save_for_backward(H, theta)
        ctx.k = (a_mem, a_syn, v_th, v_leak, reset, surrogate, alpha)
        return Z, u, i_last

    @staticmethod
    def backward(ctx, gZ, gu, gi):  # type: ignore[override]
        H, theta = ctx.saved_tensors
        a_mem, a_syn, v_th, v_leak, reset, surrogate, alpha = ctx.k
        gx, g_u0, g_i0 = lif_sequence_backward(gZ, gu, gi, H, a_mem, a_syn, _th(v_th, theta, v_leak), reset,
                                               surrogate, alpha)
        return (gx, g_u0, g_i0) + (None,) * 10
