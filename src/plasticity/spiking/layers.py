"""``nn.Module`` wrappers over the functional LIF step, Norse style: every layer runs a whole sequence
``[T, B, n_in]`` and takes and returns its state, ``forward(x, state=None) -> (output, state)``, so a long
sequence can be fed in chunks (streaming, truncated BPTT) with the same result as at once. The input
projection is one matmul over all steps; the time loop is the fused kernel (``kernels.LIFSequence``, one
autograd node, O(T)) when the neuron allows it, else the step-by-step autograd path, also O(T).

``record=True`` returns, in place of the final state, the state after every step (each field ``[T, B, N]``,
as Norse's ``record_states``); ``state_at(rec, -1)`` is the final state. The return type never changes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..errors import ConfigError, check_choice, check_range
from .encoders import ENCODERS, encode
from .kernels import LIFSequence, lif_sequence_forward
from .neurons import (
    LIFCoefficients,
    LIFParameters,
    LIFState,
    check_lif_parameters,
    li_step,
    lif_coefficients,
    lif_initial_state,
    lif_step,
)

LEARNABLE = ("tau_mem", "tau_syn", "v_th")


def check_sequence(name: str, x: torch.Tensor, n_features: int | None = None) -> torch.Tensor:
    """``x`` must be a ``[T, B, N]`` tensor (with ``N == n_features`` when given)."""
    if x.dim() != 3:
        raise ConfigError(f"{name} must be a [time, batch, neurons] tensor; got shape {tuple(x.shape)}")
    if n_features is not None and x.shape[2] != n_features:
        raise ConfigError(f"{name} has {x.shape[2]} neurons per step; expected {n_features}")
    return x


def check_state(state: LIFState, shape: tuple[int, ...], name: str = "state") -> LIFState:
    """Every field of ``state`` must have ``shape`` (batch, neurons); else a one-line ``ConfigError``."""
    if not isinstance(state, LIFState):
        raise ConfigError(f"{name} must be a LIFState (or None for rest); got {type(state).__name__}")
    for field, t in zip(state._fields, state, strict=True):
        if tuple(t.shape) != tuple(shape):
            raise ConfigError(f"{name}.{field} has shape {tuple(t.shape)}; expected {tuple(shape)} (batch, neurons) "
                              "for this input")
    return state


def state_at(rec: LIFState, t: int) -> LIFState:
    """Step ``t`` of a recorded state (fields ``[T, ...]``); ``state_at(rec, -1)`` is the final state."""
    return LIFState(*(f[t] for f in rec))


def _stack_states(states: list[LIFState]) -> LIFState:
    return LIFState(*(torch.stack(f) for f in zip(*states, strict=True)))


def _fusable(p: LIFParameters, k: LIFCoefficients, w_rec: torch.Tensor | None, state: LIFState, record: bool,
             cur: torch.Tensor) -> bool:
    """Whether the fused kernel computes exactly what the step-by-step path would."""
    if w_rec is not None or p.t_ref > 0 or p.theta_plus > 0 or not p.detach_reset:
        return False
    if not all(isinstance(c, float) for c in k):
        return False
    if state.theta.requires_grad:
        return False
    needs_grad = torch.is_grad_enabled() and (cur.requires_grad or state.v.requires_grad or state.i.requires_grad)
    return not (record and needs_grad)


_COMPILED: dict[str, Callable] = {}


def compiled_lif_step() -> Callable:
    """``lif_step`` under ``torch.compile``, compiled once per process and reused by every layer (dynamo
    recompiles on a new grad mode or shape, then marks shapes dynamic, so a few variants cover all layers);
    inductor's FX-graph cache, on by default and kept in ``TORCHINDUCTOR_CACHE_DIR``, lets later processes
    skip most of the compile."""
    if "lif_step" not in _COMPILED:
        _COMPILED["lif_step"] = torch.compile(lif_step, fullgraph=True)
    return _COMPILED["lif_step"]


def run_lif(cur: torch.Tensor, p: LIFParameters, w_rec: torch.Tensor | None = None, record: bool = False,
            state: LIFState | None = None, k: LIFCoefficients | None = None, inplace: bool = False,
            compile: bool = False) -> tuple[torch.Tensor, LIFState | None, LIFState]:
    """Simulate LIF neurons driven by input currents ``cur [T, B, N]`` from ``state`` (None: rest), optionally
    with recurrent weights ``w_rec [N, N]`` acting on the previous step's spikes; returns the spikes, the
    state after every step (``record`` only, else None) and the final state. ``k`` overrides the decays and
    threshold (learned values); ``inplace`` lets the fused kernel reuse ``cur``'s buffer (pass it only for a
    ``cur`` nothing else holds); ``compile`` runs the step-by-step path with ``torch.compile``."""
    check_sequence("cur", cur)
    shape = tuple(cur.shape[1:])
    state = lif_initial_state(shape, p, cur) if state is None else check_state(state, shape)
    k = lif_coefficients(p) if k is None else k
    if not compile and _fusable(p, k, w_rec, state, record, cur):
        return _run_fused(cur, p, k, state, record, inplace)
    step = compiled_lif_step() if compile else lif_step
    out, states = [], []
    z = state.z
    for x_t in cur.unbind(0):   # unbind: each step's backward touches only its own slice (O(T) overall)
        drive = x_t if w_rec is None else x_t + z @ w_rec.t()
        z, state = step(drive, state, p, k)
        out.append(z)
        if record:
            states.append(state)
    return torch.stack(out), (_stack_states(states) if record else None), state


def _run_fused(cur: torch.Tensor, p: LIFParameters, k: LIFCoefficients, state: LIFState, record: bool,
               inplace: bool) -> tuple[torch.Tensor, LIFState | None, LIFState]:
    a_mem, a_syn, v_th = float(k.a_mem), float(k.a_syn), float(k.v_th)
    theta = state.theta if bool(state.theta.any()) else None
    u0 = state.v - p.v_leak
    needs_grad = torch.is_grad_enabled() and (cur.requires_grad or u0.requires_grad or state.i.requires_grad)
    if needs_grad:
        z, u, i = LIFSequence.apply(cur, u0, state.i, theta, a_mem, a_syn, v_th, p.v_leak, p.v_reset, p.reset,
                                    p.surrogate, p.alpha, inplace)
        rec = None
    else:
        th = (v_th - p.v_leak) if theta is None else theta + (v_th - p.v_leak)
        with torch.no_grad():
            z, _, u, i, us, is_ = lif_sequence_forward(cur, u0, state.i, a_mem, a_syn, th, p.v_reset - p.v_leak,
                                                       p.reset, inplace=inplace, record=record)
        rec = None
        if record:
            T = cur.shape[0]
            rec = LIFState(torch.stack(us) + p.v_leak, torch.stack(is_), state.ref.expand(T, *state.ref.shape),
                           state.theta.expand(T, *state.theta.shape), z)
    final = LIFState(u + p.v_leak, i, state.ref, state.theta, z[-1])
    return z, rec, final


class _LIFModule(nn.Module):
    """Shared parameter handling: ``p`` plus the optional learned per-neuron time constants and threshold."""

    def _setup(self, n: int, p: LIFParameters | None, learn: Sequence[str], compile: bool) -> None:
        self.p = check_lif_parameters(p or LIFParameters())
        self.learn = tuple(check_choice("learn", name, LEARNABLE) for name in learn)
        self.compile = bool(compile)
        if "tau_syn" in self.learn and self.p.tau_syn == 0:
            raise ConfigError("learn='tau_syn' needs tau_syn > 0 (a current-based synapse); got tau_syn=0")
        if "tau_mem" in self.learn:   # log-parametrised: tau = exp(w) stays positive
            self.log_tau_mem = nn.Parameter(torch.full((n,), math.log(self.p.tau_mem)))
        if "tau_syn" in self.learn:
            self.log_tau_syn = nn.Parameter(torch.full((n,), math.log(self.p.tau_syn)))
        if "v_th" in self.learn:
            self.v_th = nn.Parameter(torch.full((n,), float(self.p.v_th)))

    def coefficients(self) -> LIFCoefficients:
        """Decays and threshold of the current parameters (tensors for the learned ones)."""
        return lif_coefficients(
            self.p,
            tau_mem=self.log_tau_mem.exp() if "tau_mem" in self.learn else None,
            tau_syn=self.log_tau_syn.exp() if "tau_syn" in self.learn else None,
            v_th=self.v_th if "v_th" in self.learn else None)


class LIFCell(_LIFModule):
    """A population of LIF neurons for one step; ``forward(x_t, state) -> (spikes, state)`` (state None = rest)."""

    def __init__(self, n: int, p: LIFParameters | None = None, learn: Sequence[str] = (), compile: bool = False,
                 ) -> None:
        super().__init__()
        self.n = int(check_range("n", n, 1))
        self._setup(self.n, p, learn, compile)

    def forward(self, x: torch.Tensor, state: LIFState | None = None) -> tuple[torch.Tensor, LIFState]:
        if x.shape[-1] != self.n:
            raise ConfigError(f"input has {x.shape[-1]} neurons; expected {self.n}")
        state = lif_initial_state(tuple(x.shape), self.p, x) if state is None else check_state(state, tuple(x.shape))
        step = compiled_lif_step() if self.compile else lif_step
        return step(x, state, self.p, self.coefficients())


class LIFLayer(_LIFModule):
    """Feedforward LIF layer: ``fc`` (``nn.Linear``) then LIF; ``forward([T,B,n_in], state) -> (spikes [T,B,n_out], state)``.

    ``learn`` names parameters learned per neuron (any of ``tau_mem``, ``tau_syn``, ``v_th``); ``compile`` runs the
    step under ``torch.compile`` (see ``compiled_lif_step``)."""

    def __init__(self, n_in: int, n_out: int, p: LIFParameters | None = None, bias: bool = False,
                 learn: Sequence[str] = (), compile: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n_out, bias=bias)
        self._setup(n_out, p, learn, compile)

    def forward(self, x: torch.Tensor, state: LIFState | None = None, record: bool = False,
                ) -> tuple[torch.Tensor, LIFState]:
        check_sequence("input", x, self.fc.in_features)
        cur = self.fc(x)
        zs, rec, final = run_lif(cur, self.p, state=state, record=record, k=self.coefficients(),
                                 inplace=_may_reuse(cur), compile=self.compile)
        return zs, (rec if record else final)


_PLAIN_LINEAR = {"UnsafeViewBackward0", "ViewBackward0", "AddmmBackward0", "MmBackward0"}


def _may_reuse(cur: torch.Tensor) -> bool:
    """The fused kernel may overwrite ``cur`` only when autograd does not need it: a plain ``nn.Linear`` output.
    A learning rule's custom feedback function (FA, sign symmetry) returns a view that must stay intact."""
    if not cur.requires_grad:
        return True
    fn = cur.grad_fn
    if fn is None or type(fn).__name__ not in _PLAIN_LINEAR:
        return False
    base = cur._base
    return base is None or type(base.grad_fn).__name__ in _PLAIN_LINEAR


class RecurrentLIFLayer(_LIFModule):
    """Recurrent LIF layer: input ``fc`` plus ``rec`` (N x N, no self-connections by default), one step delay;
    the state carries the last step's spikes (``state.z``), so chunks continue exactly."""

    def __init__(self, n_in: int, n: int, p: LIFParameters | None = None, bias: bool = False,
                 self_connections: bool = False, learn: Sequence[str] = (), compile: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n, bias=bias)
        self.rec = nn.Linear(n, n, bias=False)
        self._setup(n, p, learn, compile)
        mask = torch.ones(n, n) if self_connections else 1.0 - torch.eye(n)
        self.register_buffer("rec_mask", mask)
        with torch.no_grad():
            self.rec.weight.mul_(self.rec_mask)

    def forward(self, x: torch.Tensor, state: LIFState | None = None, record: bool = False,
                ) -> tuple[torch.Tensor, LIFState]:
        check_sequence("input", x, self.fc.in_features)
        zs, rec, final = run_lif(self.fc(x), self.p, self.rec.weight * self.rec_mask, state=state, record=record,
                                 k=self.coefficients(), compile=self.compile)
        return zs, (rec if record else final)


class LIReadout(_LIFModule):
    """Non-spiking leaky-integrator output: ``fc`` then membrane; ``forward(x, state) -> (membrane [T,B,n_out], state)``."""

    def __init__(self, n_in: int, n_out: int, p: LIFParameters | None = None, bias: bool = True,
                 learn: Sequence[str] = ()) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n_out, bias=bias)
        if "v_th" in learn:
            raise ConfigError("learn='v_th' does not apply to LIReadout (it never spikes); allowed: tau_mem, tau_syn")
        self._setup(n_out, p, learn, False)

    def forward(self, x: torch.Tensor, state: LIFState | None = None) -> tuple[torch.Tensor, LIFState]:
        check_sequence("input", x, self.fc.in_features)
        cur = self.fc(x)
        shape = tuple(cur.shape[1:])
        state = lif_initial_state(shape, self.p, cur) if state is None else check_state(state, shape)
        k = self.coefficients()
        vs = []
        for x_t in cur.unbind(0):
            v, state = li_step(x_t, state, self.p, k)
            vs.append(v)
        return torch.stack(vs), state


READOUTS = ("max_membrane", "mean_membrane", "spike_count")


class SpikingMLP(nn.Module):
    """Image -> encoder -> LIF layers -> readout, returning class scores ``[B, n_classes]``.

    ``sizes = [n_in, h1, ..., n_out]``; hidden layers spike; the readout is a leaky integrator
    (max or mean of its membrane over time) or a spiking layer's spike counts. Trains with any rule
    that differentiates the output (``SurrogateBPTT``).
    """

    def __init__(self, sizes: Sequence[int], n_steps: int = 16, p: LIFParameters | None = None,
                 encoder: str = "current", readout: str = "max_membrane", recurrent: bool = False,
                 max_rate: float = 200.0) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ConfigError(f"sizes needs at least [n_in, n_out]; got {list(sizes)}")
        self.sizes = [int(s) for s in sizes]
        self.n_steps = int(check_range("n_steps", n_steps, 1))
        self.p = check_lif_parameters(p or LIFParameters())
        self.encoder = check_choice("encoder", encoder, ENCODERS)
        self.readout = check_choice("readout", readout, READOUTS)
        self.max_rate = float(max_rate)
        layer = RecurrentLIFLayer if recurrent else LIFLayer
        self.layers = nn.ModuleList(layer(a, b, self.p) for a, b in zip(self.sizes[:-2], self.sizes[1:-1], strict=True))
        if readout == "spike_count":
            self.out: nn.Module = LIFLayer(self.sizes[-2], self.sizes[-1], self.p, bias=True)
        else:
            self.out = LIReadout(self.sizes[-2], self.sizes[-1], self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = encode(x.flatten(1), self.encoder, self.n_steps, dt=self.p.dt, max_rate=self.max_rate)
        for layer in self.layers:
            s, _ = layer(s)
        o, _ = self.out(s)
        if self.readout == "spike_count":
            return o.sum(0)
        return o.max(0).values if self.readout == "max_membrane" else o.mean(0)
