"""Supervised learning with symmetric STDP (Hao, Huang, Feng & Wang 2020, Neural Networks 121; arXiv 1812.06574).

Network (``SymSTDPNet``): Poisson input -> excitatory LIF layer with a dynamic threshold and lateral
inhibition (winner-take-all) -> output LIF layer, one neuron per class. Rule (``SymmetricSTDP``): the
dopamine-modulated *symmetric* STDP window potentiates a synapse for pre/post spike pairs in either order,
    dw_ij = eta * (sum_t z_i(t) x_j(t) + sum_t x_i(t) z_j(t)),   x = exponential spike traces (tau_stdp),
followed by synaptic scaling (each neuron's incoming weights rescaled to a fixed sum) which turns the
pure potentiation into competition. A teacher current drives the label neuron of the output layer during
training; the excitatory layer learns without labels. The dynamic threshold (intrinsic plasticity)
theta += theta_plus per spike is a model buffer the rule updates.

The rule writes ``w - w_target`` into ``.grad``, so ``torch.optim.SGD(lr=1)`` applies the paper's update
exactly and any other optimizer or geometry sees the same direction.

The reference protocol (haoyz/sym-STDP-SNN, what the ``symstdp`` study runs) lives below the simplified rule:
``SymSTDPConfig`` (the constants of model.h), ``SymSTDPNetwork`` (conductance LIF excitatory layer with an
adaptive threshold, a separate inhibitory population, a Poisson teacher / LIF class layer; one presentation
is a loop over time vectorised over images and neurons), ``pair_stdp`` (the additive symmetric STDP of
add_model.cc, vectorised over spike pairs), ``run_pass`` (images one at a time, or several in flight with a
shared update; re-show with raised intensity) and the reference's two readouts.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import check_range
from ..rules.base import LearningRule, StepReport, UnsupportedModelError
from .encoders import poisson_encode
from .metrics import exp_filter
from .neurons import LIFParameters, check_lif_parameters, lif_initial_state, lif_step


@dataclass
class SymSTDPRun:
    """Spike sequences of one simulated batch (time first)."""

    s_in: torch.Tensor
    s_exc: torch.Tensor
    s_out: torch.Tensor
    out_drive: torch.Tensor


class SymSTDPNet(nn.Module):
    """Input -> excitatory (dynamic threshold, lateral inhibition) -> output; ``forward`` = class scores.

    Scores are output spike counts; ties (e.g. silent outputs) are broken by the summed synaptic drive.
    Weights are non-negative and each neuron's incoming weights sum to ``norm_exc`` (default ``0.1 * n_in``,
    as in Diehl & Cook's 78 for 784 pixels) / ``norm_out``.
    """

    def __init__(self, n_in: int, n_exc: int = 400, n_out: int = 10, n_steps: int = 100, dt: float = 1.0,
                 max_rate: float = 200.0, norm_exc: float | None = None, norm_out: float = 4.0, w_inh: float = 3.0,
                 w_inh_out: float = 1.0, theta_plus: float = 0.02, tau_theta: float = 1e7, tau_mem: float = 20.0,
                 tau_syn: float = 5.0, t_ref: float = 2.0, seed: int = 0) -> None:
        super().__init__()
        self.n_in, self.n_exc = int(check_range("n_in", n_in, 1)), int(check_range("n_exc", n_exc, 1))
        self.n_out = int(check_range("n_out", n_out, 1))
        self.n_steps = int(check_range("n_steps", n_steps, 1))
        self.max_rate = float(check_range("max_rate", max_rate, 0.0))
        self.norm_exc = float(check_range("norm_exc", 0.1 * self.n_in if norm_exc is None else norm_exc, 0.0,
                                          low_inclusive=False))
        self.norm_out = float(check_range("norm_out", norm_out, 0.0, low_inclusive=False))
        self.w_inh, self.w_inh_out = float(w_inh), float(w_inh_out)
        self.p_exc = check_lif_parameters(LIFParameters(dt=dt, tau_mem=tau_mem, tau_syn=tau_syn, t_ref=t_ref,
                                                        theta_plus=theta_plus, tau_theta=tau_theta))
        self.p_out = check_lif_parameters(LIFParameters(dt=dt, tau_mem=tau_mem, tau_syn=tau_syn, t_ref=t_ref))
        self.fc1 = nn.Linear(self.n_in, self.n_exc, bias=False)
        self.fc2 = nn.Linear(self.n_exc, self.n_out, bias=False)
        g = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            self.fc1.weight.copy_(torch.rand(self.n_exc, self.n_in, generator=g))
            self.fc2.weight.copy_(torch.rand(self.n_out, self.n_exc, generator=g))
            synaptic_scaling(self.fc1.weight, self.norm_exc)
            synaptic_scaling(self.fc2.weight, self.norm_out)
        self.register_buffer("theta", torch.zeros(self.n_exc))
        self.generator: torch.Generator | None = None

    def simulate(self, x: torch.Tensor, teacher: torch.Tensor | None = None, adapt: bool = False) -> SymSTDPRun:
        """Run one presentation of images ``x`` ([B, ...] in [0, 1]); ``teacher`` [B, n_out] is an extra
        current into the output layer; ``adapt`` lets the threshold grow within the presentation."""
        xf = x.flatten(1)
        s_in = poisson_encode(xf, self.n_steps, self.max_rate, self.p_exc.dt, self.generator)
        cur_in = s_in @ self.fc1.weight.t()
        pe = self.p_exc if adapt else self.p_exc._replace(theta_plus=0.0)
        st_e = lif_initial_state((xf.shape[0], self.n_exc), pe, xf, theta=self.theta)
        st_o = lif_initial_state((xf.shape[0], self.n_out), self.p_out, xf)
        z_e = torch.zeros_like(st_e.v)
        z_o = torch.zeros_like(st_o.v)
        ze_all, zo_all = [], []
        drive = torch.zeros_like(st_o.v)
        w2 = self.fc2.weight
        for t in range(self.n_steps):
            inh = self.w_inh * (z_e.sum(1, keepdim=True) - z_e)
            z_e, st_e = lif_step(cur_in[t] - inh, st_e, pe)
            d = z_e @ w2.t()
            drive = drive + d
            inh_o = self.w_inh_out * (z_o.sum(1, keepdim=True) - z_o)
            inp_o = d - inh_o if teacher is None else d - inh_o + teacher
            z_o, st_o = lif_step(inp_o, st_o, self.p_out)
            ze_all.append(z_e)
            zo_all.append(z_o)
        return SymSTDPRun(s_in, torch.stack(ze_all), torch.stack(zo_all), drive)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        run = self.simulate(x)
        drive = run.out_drive / run.out_drive.sum(1, keepdim=True).clamp(min=1e-12)
        return run.s_out.sum(0) + 1e-3 * drive


def synaptic_scaling(w: torch.Tensor, total: float) -> torch.Tensor:
    """In place: rescale each row (a neuron's incoming weights) to sum to ``total``."""
    w.mul_(total / w.sum(1, keepdim=True).clamp(min=1e-12))
    return w


def symmetric_stdp(pre: torch.Tensor, post: torch.Tensor, tau: float, dt: float) -> torch.Tensor:
    """Symmetric STDP summed over time and batch: sum_t post(t) x_pre(t)^T + x_post(t) pre(t)^T, shape [n_post, n_pre]."""
    x_pre, x_post = exp_filter(pre, tau, dt), exp_filter(post, tau, dt)
    t, b = pre.shape[:2]
    return (post.reshape(t * b, -1).t() @ x_pre.reshape(t * b, -1)
            + x_post.reshape(t * b, -1).t() @ pre.reshape(t * b, -1))


class SymmetricSTDP(LearningRule):
    """Hao et al.'s sym-STDP with synaptic scaling, dynamic threshold and a teacher current on the outputs."""

    name = "sym-stdp"
    substrate = "symstdp"

    def __init__(self, eta_exc: float = 0.002, eta_out: float = 0.002, tau_stdp: float = 20.0,
                 teacher_current: float = 0.5, w_max: float = 1.0, seed: int = 0) -> None:
        super().__init__(loss="cross_entropy", seed=seed)
        self.eta_exc = check_range("eta_exc", eta_exc, 0.0)
        self.eta_out = check_range("eta_out", eta_out, 0.0)
        self.tau_stdp = check_range("tau_stdp", tau_stdp, 0.0, low_inclusive=False)
        self.teacher_current = check_range("teacher_current", teacher_current, 0.0)
        self.w_max = check_range("w_max", w_max, 0.0, low_inclusive=False)

    def _prepare(self, model: nn.Module) -> None:
        if not isinstance(model, SymSTDPNet):
            raise UnsupportedModelError(f"SymmetricSTDP acts on a SymSTDPNet; got {type(model).__name__}")

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        assert isinstance(model, SymSTDPNet)
        teacher = self.teacher_current * nn.functional.one_hot(y, model.n_out).to(x.dtype)
        with torch.no_grad():
            run = model.simulate(x, teacher=teacher, adapt=True)
            dt = model.p_exc.dt
            updates = ((model.fc1.weight, symmetric_stdp(run.s_in, run.s_exc, self.tau_stdp, dt), self.eta_exc,
                        model.norm_exc),
                       (model.fc2.weight, symmetric_stdp(run.s_exc, run.s_out, self.tau_stdp, dt), self.eta_out,
                        model.norm_out))
            for w, dw, eta, norm in updates:
                target = (w + eta * dw).clamp_(0.0, self.w_max)
                synaptic_scaling(target, norm)
                w.grad = w - target
            counts = run.s_exc.sum(0)
            model.theta.add_(model.p_exc.theta_plus * counts.sum(0))
            out = run.s_out.sum(0)
            loss = nn.functional.cross_entropy(out, y)
        return StepReport(loss=loss, output=out, metrics={
            "exc_spikes_per_sample": float(counts.sum(1).mean()),
            "out_spikes_per_sample": float(out.sum(1).mean()),
            "theta_mean": float(model.theta.mean())})


# ------------------------------------------------------------------------------------------------------------
# The reference protocol (haoyz/sym-STDP-SNN, GeNN 2: src/train.cc, src/model.h, src/add_model.cc, global.h).
# Conductance LIF neurons, dt = 0.5 ms, 350 ms presentation + 150 ms rest; excitatory layer with an adaptive
# threshold, a separate inhibitory population (E->I one-to-one, I->E to all others), a classification layer
# that is a Poisson teacher during training and an LIF layer at test time. Both plastic projections use the
# additive symmetric STDP of add_model.cc (pre spike: g += nu * x_post; post spike: g += nu * x_pre).
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SymSTDPConfig:
    """Constants of the reference network (model.h / train.h / global.h; 400 excitatory neurons on MNIST).

    Voltages in mV, times in ms, rates in Hz. ``rate_per_intensity`` is the rate of a white pixel per unit of
    input intensity (reference: pixel/8 Hz for pixels in 0..255, so 255/8). ``norm_ec`` None means the
    reference's 0.1 * n_exc * g_max_ec. ``image_mean`` rescales every image to this mean pixel value (0..255
    scale, clipped at 255) as the reference's Fashion-MNIST preprocessing does (``normalized_to30``).
    """

    n_in: int = 784
    n_exc: int = 400
    n_cla: int = 10
    dt: float = 0.5
    t_run: float = 350.0
    t_rest: float = 150.0
    tau_exc: float = 100.0
    v_rest_exc: float = -65.0
    v_reset_exc: float = -65.0
    v_thresh_exc: float = -52.0
    refrac_exc: float = 2.0
    theta_init: float = 20.0
    theta_offset: float = 20.0
    theta_plus: float = 0.07
    tau_theta: float = 6e6
    tau_inh: float = 10.0
    v_rest_inh: float = -60.0
    v_reset_inh: float = -45.0
    v_thresh_inh: float = -40.0
    refrac_inh: float = 2.0
    tau_cla: float = 10.0
    v_rest_cla: float = -60.0
    v_reset_cla: float = -45.0
    v_thresh_cla: float = -40.0
    tau_ge: float = 1.0
    tau_gi: float = 2.0
    e_exc: float = 0.0
    e_inh: float = -100.0
    g_ei: float = 10.4
    g_ie: float = 17.0
    tau_trace: float = 20.0
    trace_jump: float = 0.1
    nu_pe: float = 0.005
    nu_ec: float = 0.04
    g_max_pe: float = 1.0
    g_max_ec: float = 8.0
    norm_pe: float = 78.4
    norm_ec: float | None = None
    w_init_max: float = 0.3
    intensity_init: float = 2.0
    max_intensity: float = 32.0
    min_spikes: int = 5
    rate_per_intensity: float = 255.0 / 8.0
    teacher_rate: float = 200.0
    image_mean: float | None = None

    def __post_init__(self) -> None:
        for key in ("n_in", "n_exc", "n_cla"):
            check_range(key, getattr(self, key), 1)
        for key in ("dt", "t_run", "tau_exc", "tau_inh", "tau_cla", "tau_ge", "tau_gi", "tau_trace", "tau_theta",
                    "g_max_pe", "g_max_ec", "norm_pe", "intensity_init", "max_intensity", "rate_per_intensity"):
            check_range(key, getattr(self, key), 0.0, low_inclusive=False)
        for key in ("t_rest", "refrac_exc", "refrac_inh", "g_ei", "g_ie", "trace_jump", "nu_pe", "nu_ec",
                    "w_init_max", "teacher_rate", "min_spikes", "theta_plus"):
            check_range(key, getattr(self, key), 0.0)
        if self.norm_ec is not None:
            check_range("norm_ec", self.norm_ec, 0.0, low_inclusive=False)
        if self.image_mean is not None:
            check_range("image_mean", self.image_mean, 0.0, 255.0, low_inclusive=False)

    @property
    def n_steps(self) -> int:
        return max(1, round(self.t_run / self.dt))

    @property
    def cla_norm(self) -> float:
        return 0.1 * self.n_exc * self.g_max_ec if self.norm_ec is None else self.norm_ec


@dataclass
class Events:
    """Sparse spike events of one presentation: step, slot (image in the batch) and neuron index."""

    t: torch.Tensor
    b: torch.Tensor
    i: torch.Tensor

    @staticmethod
    def from_dense(z: torch.Tensor) -> Events:
        """Events of a boolean/0-1 spike tensor [T, B, N]."""
        t, b, i = z.nonzero(as_tuple=True)
        return Events(t, b, i)


@dataclass
class Presentation:
    """What one presentation of a batch of images returns (counts over the 350 ms window)."""

    exc_counts: torch.Tensor
    cla_counts: torch.Tensor
    exc: Events
    inp: Events
    teacher: Events | None
    theta: torch.Tensor
    v_exc: torch.Tensor


def poisson_events(rates: torch.Tensor, n_steps: int, dt: float, generator: torch.Generator | None = None) -> Events:
    """Poisson spike events for rates [B, N] (Hz) over ``n_steps`` bins of ``dt`` ms, sorted by time.

    Drawn sparsely: a Poisson count per neuron, then uniform bins (the same process as an independent
    Bernoulli draw per bin up to double spikes in one 0.5 ms bin), so the cost scales with spikes, not T*N.
    """
    b, n = rates.shape
    counts = torch.poisson(rates.clamp(min=0) * (n_steps * dt / 1000.0), generator=generator).flatten().long()
    src = torch.repeat_interleave(torch.arange(b * n, device=rates.device), counts)
    t = torch.randint(0, n_steps, (src.numel(),), device=rates.device, generator=generator)
    t, order = torch.sort(t, stable=True)
    src = src[order]
    return Events(t, src // n, src % n)


def pair_stdp(pre: Events, post: Events, n_pre: int, n_post: int, tau: float, dt: float, n_steps: int,
              window: float = 5.0, max_pairs: int = 2_000_000, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Sum over pre/post spike pairs of the same image of exp(-|t_pre - t_post| dt / tau): [n_pre, n_post].

    This is what the reference's additive traces compute (pre spike: g += nu * x_post; post spike:
    g += nu * x_pre, each trace jumping by a constant): every pair once, weighted by the symmetric window.
    Pairs further apart than ``window`` * tau (exp(-5) < 1 % at the default) are skipped. Vectorised over
    pairs, chunked over post events to bound memory.
    """
    device = pre.t.device
    out = torch.zeros(n_pre * n_post, device=device, dtype=dtype)
    if pre.t.numel() == 0 or post.t.numel() == 0:
        return out.view(n_pre, n_post)
    lag_max = math.ceil(window * tau / dt)
    key = pre.b * n_steps + pre.t
    key, order = torch.sort(key, stable=True)
    pt, pi = pre.t[order], pre.i[order]
    base = post.b * n_steps  # the window stays inside the post spike's own image
    lo = torch.searchsorted(key, base + (post.t - lag_max).clamp(min=0))
    hi = torch.searchsorted(key, base + (post.t + lag_max).clamp(max=n_steps - 1), right=True)
    k_all = hi - lo
    per = max(1, max_pairs // max(int(k_all.max()), 1))
    scale = dt / tau
    for c in range(0, post.t.numel(), per):
        sl = slice(c, c + per)
        k = k_all[sl]
        total = int(k.sum())
        if total == 0:
            continue
        e = torch.repeat_interleave(torch.arange(k.numel(), device=device), k)
        first = torch.cumsum(k, 0) - k
        idx = lo[sl][e] + torch.arange(total, device=device) - first[e]
        lag = (pt[idx] - post.t[sl][e]).abs().to(dtype)
        out.index_add_(0, pi[idx] * n_post + post.i[sl][e], torch.exp(-lag * scale))
    return out.view(n_pre, n_post)


_STEP_CACHE: dict[tuple[SymSTDPConfig, bool, bool], Callable[..., tuple[torch.Tensor, ...]]] = {}


def _step_fn(c: SymSTDPConfig, train: bool, compiled: bool) -> Callable[..., tuple[torch.Tensor, ...]]:
    """One 0.5 ms step of the excitatory and inhibitory populations (add_model.cc LIF_Exc / LIF_Inh; GeNN
    order: synaptic input of the previous step's spikes, then the membranes). Built once per config."""
    key = (c, train, compiled)
    if key in _STEP_CACHE:
        return _STEP_CACHE[key]
    dt = c.dt
    de, di = math.exp(-dt / c.tau_ge), math.exp(-dt / c.tau_gi)
    ke, ki = dt / c.tau_exc, dt / c.tau_inh
    shift = c.v_thresh_exc - c.theta_offset
    jump = c.theta_plus * (c.theta_offset - 10.0)

    def step(v: torch.Tensor, ge: torch.Tensor, gi: torch.Tensor, gei: torch.Tensor, te: torch.Tensor,
             vi: torch.Tensor, ti: torch.Tensor, theta: torch.Tensor, ze: torch.Tensor, zi: torch.Tensor,
             drive: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ge = ge * de + drive
        gi = gi * di + c.g_ie * (zi.sum(1, keepdim=True) - zi)  # I -> all other E
        gei = gei * de + c.g_ei * ze  # E -> I one-to-one
        dv = (c.v_rest_exc - v + ge * (c.e_exc - v) + gi * (c.e_inh - v)) * ke
        v = torch.where(te > c.refrac_exc, v + dv, v).clamp(min=-100.0)
        te = te + dt
        fired = (v > theta + shift) & (te > c.refrac_exc)
        ze = fired.to(v.dtype)
        v = torch.where(fired, c.v_reset_exc, v)
        te = te * (1.0 - ze)
        if train:  # adaptive threshold: theta += theta_plus * (offset - 10) / |theta - 10| per spike
            theta = theta + ze * (jump / (theta - 10.0).abs())
        vi = torch.where(ti > c.refrac_inh, vi + (c.v_rest_inh - vi + gei * (c.e_exc - vi)) * ki, vi)
        ti = ti + dt
        fired_i = (vi > c.v_thresh_inh) & (ti > c.refrac_inh)
        zi = fired_i.to(v.dtype)
        vi = torch.where(fired_i, c.v_reset_inh, vi)
        ti = ti * (1.0 - zi)
        return v, ge, gi, gei, te, vi, ti, theta, ze, zi, fired

    fn: Callable[..., tuple[torch.Tensor, ...]] = torch.compile(step, dynamic=True) if compiled else step
    _STEP_CACHE[key] = fn
    return fn


class SymSTDPNetwork(nn.Module):
    """Hao et al.'s network as the reference runs it: Poisson input -> excitatory (adaptive threshold) <->
    inhibitory -> classification layer. Weights are buffers ``w_pe`` [n_in, n_exc] and ``w_ec`` [n_exc, n_cla]
    (pre-synaptic index first), ``theta`` [n_exc] is the adaptive threshold (model.h ``theta``)."""

    def __init__(self, cfg: SymSTDPConfig, seed: int = 0) -> None:
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(int(seed))
        self.register_buffer("w_pe", torch.rand(cfg.n_in, cfg.n_exc, generator=g) * cfg.w_init_max)
        self.register_buffer("w_ec", torch.rand(cfg.n_exc, cfg.n_cla, generator=g) * cfg.w_init_max)
        self.register_buffer("theta", torch.full((cfg.n_exc,), cfg.theta_init))
        # False = the reference's FIXED_HIDDEN_LAYER stage (global.h, model.cc p_Exc_fixed): input weights and
        # threshold stay as they are, only the class layer learns
        self.hidden_plastic = True

    @torch.no_grad()
    def reset_classifier(self, seed: int = 0) -> None:
        """Redraw the E->C weights uniformly in [0, w_init_max) (train.cc ``reset_Cla_para``, called when
        supervised learning starts in layer-by-layer training)."""
        g = torch.Generator().manual_seed(int(seed))
        self.w_ec.copy_(torch.rand(self.w_ec.shape, generator=g) * self.cfg.w_init_max)

    def normalize(self, train: bool) -> None:
        """Each excitatory neuron's input weights sum to ``norm_pe`` (before every image, evaluation.cc
        normalize_weights); in training each class neuron's to ``cla_norm`` (cla_normalize_weights)."""
        self.w_pe.mul_(self.cfg.norm_pe / self.w_pe.sum(0, keepdim=True).clamp(min=1e-12))
        if train:
            self.w_ec.mul_(self.cfg.cla_norm / self.w_ec.sum(0, keepdim=True).clamp(min=1e-12))

    @torch.no_grad()
    def present(self, rates: torch.Tensor, labels: torch.Tensor | None = None, v_exc: torch.Tensor | None = None,
                generator: torch.Generator | None = None, compiled: bool = False) -> Presentation:
        """Simulate one 350 ms presentation of input rates [B, n_in] (Hz). With ``labels`` (training) the class
        layer is the Poisson teacher and the threshold adapts (unless ``hidden_plastic`` is False); without, the class layer integrates the
        excitatory spikes and the threshold is frozen. ``v_exc`` carries each slot's membrane over the rest.
        ``compiled`` runs the per-step update through ``torch.compile`` (one fused kernel; first call compiles)."""
        c = self.cfg
        B, E, dev, dt = rates.shape[0], c.n_exc, rates.device, c.dt
        T = c.n_steps
        dtype = self.w_pe.dtype
        train = labels is not None
        inp = poisson_events(rates, T, dt, generator)
        # conductance jump of every step from the input spikes, all steps at once: [T, B, E]
        s_in = torch.sparse_coo_tensor(torch.stack([inp.t * B + inp.b, inp.i]),
                                       torch.ones(inp.t.numel(), device=dev, dtype=dtype), (T * B, c.n_in), check_invariants=False)
        drive = torch.sparse.mm(s_in, self.w_pe).view(T, B, E)
        step = _step_fn(c, train and self.hidden_plastic, compiled)
        full = functools.partial(torch.full, (B, E), device=dev, dtype=dtype)
        v = full(c.v_rest_exc) if v_exc is None else v_exc.clone()
        state = [v, full(0.0), full(0.0), full(0.0), full(1e3), full(c.v_rest_inh), full(1e3),
                 self.theta.to(dtype).expand(B, E).clone(), full(0.0), full(0.0)]
        spikes = torch.zeros(T, B, E, device=dev, dtype=torch.bool)
        if not train:
            v_c = torch.full((B, c.n_cla), c.v_rest_cla, device=dev, dtype=dtype)
            g_c = torch.zeros(B, c.n_cla, device=dev, dtype=dtype)
            cla_counts = torch.zeros(B, c.n_cla, device=dev, dtype=dtype)
            kc, de = dt / c.tau_cla, math.exp(-dt / c.tau_ge)
        for t in range(T):
            if not train:  # class layer (test mode): driven by the previous step's excitatory spikes
                g_c = g_c * de + state[8] @ self.w_ec
                v_c = v_c + (c.v_rest_cla - v_c + g_c * (c.e_exc - v_c)) * kc
                fired_c = v_c > c.v_thresh_cla
                cla_counts += fired_c
                v_c = torch.where(fired_c, c.v_reset_cla, v_c)
            *state, fired = step(*state, drive[t])
            spikes[t] = fired
        v, theta = state[0], state[7]
        exc = Events.from_dense(spikes)
        exc_counts = torch.zeros(B * E, device=dev, dtype=dtype)
        exc_counts.index_add_(0, exc.b * E + exc.i, torch.ones(exc.t.numel(), device=dev, dtype=dtype))
        exc_counts = exc_counts.view(B, E)
        teacher = None
        if train:
            assert labels is not None
            rate = torch.zeros(B, c.n_cla, device=dev, dtype=dtype)
            rate[torch.arange(B, device=dev), labels] = c.teacher_rate
            teacher = poisson_events(rate, T, dt, generator)
            cla_counts = torch.zeros(B, c.n_cla, device=dev, dtype=dtype)
            cla_counts.index_put_((teacher.b, teacher.i), torch.ones_like(teacher.t, dtype=dtype), accumulate=True)
        # 150 ms rest without input: conductances and traces decay to ~0, the membrane relaxes towards rest
        v_end = c.v_rest_exc + (v - c.v_rest_exc) * math.exp(-c.t_rest / c.tau_exc)
        return Presentation(exc_counts, cla_counts, exc, inp, teacher, theta, v_end)

    @torch.no_grad()
    def learn(self, p: Presentation) -> None:
        """Apply the summed symmetric-STDP updates of one presentation (all its images), clip at g_max, and
        add the threshold increments; the threshold decays with tau_theta over the images' 500 ms each."""
        c = self.cfg
        dtype = self.w_pe.dtype
        if self.hidden_plastic:
            dw = pair_stdp(p.inp, p.exc, c.n_in, c.n_exc, c.tau_trace, c.dt, c.n_steps, dtype=dtype)
            self.w_pe.add_(dw, alpha=c.nu_pe * c.trace_jump).clamp_(0.0, c.g_max_pe)
        if p.teacher is not None:
            dw = pair_stdp(p.exc, p.teacher, c.n_exc, c.n_cla, c.tau_trace, c.dt, c.n_steps, dtype=dtype)
            self.w_ec.add_(dw, alpha=c.nu_ec * c.trace_jump).clamp_(0.0, c.g_max_ec)
        if not self.hidden_plastic:  # p_Exc_fixed: theta_plus 0 and tau_theta 1e10 (no decay)
            return
        n = p.theta.shape[0]
        self.theta.add_((p.theta - self.theta).sum(0))
        self.theta.mul_(math.exp(-n * (c.t_run + c.t_rest) / c.tau_theta))


@dataclass
class PassResult:
    """Per-image responses of one pass over a set of images (each image's accepted presentation)."""

    exc_counts: torch.Tensor
    cla_counts: torch.Tensor
    intensity: torch.Tensor
    presentations: int
    seconds: float


def pixel_rates(x: torch.Tensor, cfg: SymSTDPConfig) -> torch.Tensor:
    """Images [N, ...] in [0, 1] -> rate per unit intensity [N, n_in] (Hz), with the optional per-image
    mean normalisation of the reference's Fashion-MNIST files."""
    px = x.flatten(1) * 255.0
    if cfg.image_mean is not None:
        px = (px * (cfg.image_mean / px.mean(1, keepdim=True).clamp(min=1e-6))).clamp(max=255.0)
    return px / 255.0 * cfg.rate_per_intensity


@torch.no_grad()
def run_pass(net: SymSTDPNetwork, x: torch.Tensor, y: torch.Tensor | None, batch_size: int = 1,
             generator: torch.Generator | None = None, log: Callable[[str], None] | None = None,
             log_every: int = 10000, compiled: bool = False) -> PassResult:
    """Show every image of ``x`` once (training when ``y`` is given), ``batch_size`` images at a time.

    ``batch_size=1`` is the reference protocol: normalise, present, learn, rest, next image. With more
    slots, the images in flight share one weight update per presentation. A slot whose image drew fewer than
    ``min_spikes`` excitatory spikes keeps its image and presents it again with the intensity raised by one
    (train.cc), until ``max_intensity``; a slot whose image passed takes the next image at ``intensity_init``.
    """
    c = net.cfg
    check_range("batch_size", batch_size, 1)
    t0 = time.perf_counter()
    dev, dtype = net.w_pe.device, net.w_pe.dtype
    rates = pixel_rates(x, c).to(dev, dtype)
    n = rates.shape[0]
    exc_out = torch.zeros(n, c.n_exc, device=dev, dtype=dtype)
    cla_out = torch.zeros(n, c.n_cla, device=dev, dtype=dtype)
    inten_out = torch.zeros(n, device=dev, dtype=dtype)
    slots = torch.arange(min(batch_size, n), device=dev)
    nxt = slots.numel()
    inten = torch.full((slots.numel(),), c.intensity_init, device=dev, dtype=dtype)
    v = torch.full((slots.numel(), c.n_exc), c.v_rest_exc, device=dev, dtype=dtype)
    train = y is not None
    shows, done, next_log = 0, 0, log_every
    while slots.numel():
        net.normalize(train)
        p = net.present(rates[slots] * inten[:, None], y[slots] if train else None, v, generator, compiled)
        if train:
            net.learn(p)
        shows += slots.numel()
        ok = (p.exc_counts.sum(1) >= c.min_spikes) | (inten >= c.max_intensity)
        idx = slots[ok]
        exc_out[idx], cla_out[idx], inten_out[idx] = p.exc_counts[ok], p.cla_counts[ok], inten[ok]
        n_ok = int(ok.sum())
        done += n_ok
        inten = torch.where(ok, torch.full_like(inten, c.intensity_init), inten + 1.0)
        new = torch.arange(nxt, min(nxt + n_ok, n), device=dev)
        nxt += new.numel()
        slots = slots.clone()
        ok_pos = ok.nonzero().flatten()
        slots[ok_pos[: new.numel()]] = new
        keep = torch.ones_like(ok)
        keep[ok_pos[new.numel():]] = False
        slots, inten, v = slots[keep], inten[keep], p.v_exc[keep]
        if log is not None and done >= next_log:
            log(f"  {done}/{n} images, {shows} presentations, {time.perf_counter() - t0:.0f} s")
            next_log += log_every
    return PassResult(exc_out, cla_out, inten_out, shows, time.perf_counter() - t0)


def assign_labels(exc_counts: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Each excitatory neuron's class: the one with its highest mean response (evaluation.cc
    get_new_assignments); -1 for a neuron that never fired."""
    onehot = nn.functional.one_hot(y, n_classes).to(exc_counts.dtype)
    mean = (onehot.t() @ exc_counts) / onehot.sum(0).clamp(min=1)[:, None]  # [classes, n_exc]
    best, cls = mean.max(0)
    return torch.where(best > 0, cls, torch.full_like(cls, -1))


def assignment_predict(exc_counts: torch.Tensor, assignments: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Class with the highest mean count over its assigned neurons (get_recognized_number); classes without
    neurons never win."""
    onehot = (assignments[:, None] == torch.arange(n_classes, device=assignments.device)).to(exc_counts.dtype)
    n = onehot.sum(0)
    score = (exc_counts @ onehot) / n.clamp(min=1)
    score = torch.where(n > 0, score, torch.full_like(score, -float("inf")))
    return score.argmax(1)
