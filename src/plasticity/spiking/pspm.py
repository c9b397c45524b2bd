"""Pre-synaptic pool modification (Bagley, Bordelon, Moseley & Wessel 2018/2020, arXiv 1810.03199).

A gradient-free supervised rule for recurrent LIF networks that must reproduce target spike trains. For every
neuron i and step t:
  * a *missing* spike (target spike at t, no own spike within +-``tolerance``) potentiates the synapses from
    its pre-synaptic pool, the inputs and neurons that fired in the ``window`` before t;
  * an *extra* spike (own spike at t, no target spike within +-``tolerance``) depresses that pool;
  * each update touches a random subset of the pool (each synapse kept with probability ``p_select``): the
    stochastic part of PSPM;
  * homeostasis (synaptic scaling): every incoming weight of i moves by ``eta_homeo * (n_target - n_own)``,
    matching firing rates even where timing cannot be matched.
Pre-synaptic activity comes from the target spikes when ``teacher_forcing`` (the recurrent input the network
should see) or from the network's own spikes. The change dw is written as ``-dw`` into ``.grad``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError, check_range
from ..rules.base import LearningRule, StepReport, UnsupportedModelError
from .layers import RecurrentLIFLayer, check_sequence, run_lif
from .metrics import van_rossum_distance
from .neurons import LIFParameters, lif_coefficients


def window_any(s: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """``out[t] = 1`` where ``s`` (time first) has a spike in steps [t - before, t + after]; one cumsum."""
    cs = torch.cat([torch.zeros_like(s[:1]), s.cumsum(0)])
    n = s.shape[0]
    t = torch.arange(n, device=s.device)
    hi = (t + after + 1).clamp(max=n)
    lo = (t - before).clamp(min=0)
    return (cs[hi] - cs[lo]) > 0


@torch.no_grad()
def run_recurrent(layer: RecurrentLIFLayer, x: torch.Tensor, z_rec: torch.Tensor | None = None) -> torch.Tensor:
    """Simulate ``layer`` on input spikes ``x`` [T, B, n_in]; the recurrent input at step t is ``z_rec[t-1]``
    when given (teacher forcing), else the layer's own spikes of step t-1 (free-running)."""
    check_sequence("input", x, layer.fc.in_features)
    cur = layer.fc(x)
    if z_rec is not None:
        check_sequence("z_rec", z_rec, layer.rec.out_features)
        if z_rec.shape[:2] != x.shape[:2]:
            raise ConfigError(f"z_rec has shape {tuple(z_rec.shape)}; expected time and batch of x {tuple(x.shape[:2])}")
    w = layer.rec.weight * layer.rec_mask
    p = layer.p
    if p.theta_plus > 0 or p.reset != "zero" or getattr(layer, "learn", ()):
        if z_rec is None:
            return run_lif(cur, p, w)[0]
        prev = torch.cat([torch.zeros_like(z_rec[:1]), z_rec[:-1]])
        return run_lif(cur + prev @ w.t(), p)[0]
    if z_rec is not None:   # teacher forcing: the recurrent drive is known in advance (z_rec shifted by one step)
        cur = cur + torch.cat([torch.zeros_like(z_rec[:1]), z_rec[:-1]]) @ w.t()
    return _simulate(cur, p, None if z_rec is not None else w.t().contiguous())


def _simulate(cur: torch.Tensor, p: LIFParameters, w_t: torch.Tensor | None) -> torch.Tensor:
    """Lean no-grad loop of ``neurons.lif_step`` (zero reset, fixed threshold), same arithmetic, fewer ops:
    the inner loop of PSPM, which simulates the network several times per iteration."""
    k = lif_coefficients(p)
    a_mem, a_syn, c_in = float(k.a_mem), float(k.a_syn), 1.0 - float(k.a_mem)
    v = torch.full_like(cur[0], p.v_leak)
    i, ref, z = torch.zeros_like(v), torch.zeros_like(v), torch.zeros_like(v)
    out = torch.empty_like(cur)
    for t, x_t in enumerate(cur.unbind(0)):
        drive = x_t if w_t is None else torch.addmm(x_t, z, w_t)
        i = drive if a_syn == 0.0 else i * a_syn + drive
        v = p.v_leak + (v - p.v_leak) * a_mem + i * c_in
        if p.t_ref > 0:
            v = v.masked_fill(ref > 0, p.v_reset)
        z = (v - k.v_th >= 0).to(v.dtype)
        out[t] = z
        fired = z > 0
        v = v.masked_fill(fired, p.v_reset)
        if p.t_ref > 0:
            ref = (ref - p.dt).clamp_(min=0.0).masked_fill_(fired, p.t_ref)
    return out


class PSPM(LearningRule):
    """Stochastic pre-synaptic pool updates toward target spike trains; ``step(layer, x, target)`` with
    ``x`` input spikes [T, B, n_in] and ``target`` spikes [T, B, n] for a ``RecurrentLIFLayer``."""

    name = "pspm"
    substrate = "recurrent-lif"

    def __init__(self, eta_plus: float = 0.02, eta_minus: float = 0.02, p_select: float = 0.5, window: float = 8.0,
                 tolerance: float = 2.0, eta_homeo: float = 0.005, teacher_forcing: bool = True, tau_vr: float = 10.0,
                 seed: int = 0) -> None:
        super().__init__(loss="mse", seed=seed)
        self.eta_plus = check_range("eta_plus", eta_plus, 0.0)
        self.eta_minus = check_range("eta_minus", eta_minus, 0.0)
        self.p_select = check_range("p_select", p_select, 0.0, 1.0, low_inclusive=False)
        self.window = check_range("window", window, 0.0, low_inclusive=False)
        self.tolerance = check_range("tolerance", tolerance, 0.0)
        self.eta_homeo = check_range("eta_homeo", eta_homeo, 0.0)
        self.tau_vr = check_range("tau_vr", tau_vr, 0.0, low_inclusive=False)
        self.teacher_forcing = bool(teacher_forcing)
        self._gen = self.register_generator("select", int(seed))

    def _prepare(self, model: nn.Module) -> None:
        if not isinstance(model, RecurrentLIFLayer):
            raise UnsupportedModelError(f"PSPM acts on a RecurrentLIFLayer; got {type(model).__name__}")

    def _mask(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        return (torch.rand(shape, generator=self._gen) < self.p_select).to(device=like.device, dtype=like.dtype)

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        assert isinstance(model, RecurrentLIFLayer)
        n = model.rec.out_features
        check_sequence("target", y, n)
        if y.shape[:2] != x.shape[:2]:
            raise ConfigError(f"target spikes {tuple(y.shape)} and input spikes {tuple(x.shape)} differ in time/batch")
        with torch.no_grad():
            z = run_recurrent(model, x, y if self.teacher_forcing else None)
            dt = model.p.dt
            tol, win = round(self.tolerance / dt), max(1, round(self.window / dt))
            missing = (y > 0) & ~window_any(z, tol, tol)
            extra = (z > 0) & ~window_any(y, tol, tol)
            err = (missing.to(x.dtype) * self.eta_plus - extra.to(x.dtype) * self.eta_minus).flatten(0, 1)  # [TB, n]
            rec_pre = y if self.teacher_forcing else z
            rec_prev = torch.cat([torch.zeros_like(rec_pre[:1]), rec_pre[:-1]])  # recurrent input arrives one step late
            pools = [window_any(x, win - 1, 0), window_any(rec_prev, win - 1, 0)]
            counts = y.sum(0) - z.sum(0)  # [B, n] target minus own spike counts
            homeo = self.eta_homeo * counts.mean(0)
            for w, pool in ((model.fc.weight, pools[0]), (model.rec.weight, pools[1])):
                dw = err.t() @ pool.to(x.dtype).flatten(0, 1) * self._mask(w.shape, w)
                dw = dw + homeo[:, None]
                if w is model.rec.weight:
                    dw = dw * model.rec_mask
                w.grad = -dw
            d = van_rossum_distance(z.flatten(1), y.flatten(1), tau=self.tau_vr, dt=dt)
        return StepReport(loss=d.mean(), output=z, metrics={
            "missing_per_neuron": float(missing.sum() / (n * x.shape[1])),
            "extra_per_neuron": float(extra.sum() / (n * x.shape[1])),
            "van_rossum": float(d.mean())})


# -- the paper's spike-train statistics (Bagley et al., Sec. "Statistics of the learned activity") -----------------


def interspike_intervals(s: torch.Tensor, dt: float = 1.0) -> torch.Tensor:
    """All inter-spike intervals (ms) of spikes ``s`` ``[T, B, N]``, pooled over trains; one nonzero, no loops."""
    check_sequence("spikes", s)
    trains = s.permute(1, 2, 0).reshape(-1, s.shape[0])        # [B*N, T], one row per train
    idx = (trains > 0).nonzero()                                # sorted by train, then time
    if idx.shape[0] < 2:
        return torch.zeros(0, dtype=s.dtype, device=s.device)
    same = idx[1:, 0] == idx[:-1, 0]
    return (idx[1:, 1] - idx[:-1, 1])[same].to(s.dtype) * dt


def avalanche_sizes(s: torch.Tensor, bin_steps: int) -> torch.Tensor:
    """Sizes (spike counts) of neuronal avalanches in ``s`` ``[T, B, N]`` (Beggs & Plenz 2003): the population
    count is summed in bins of ``bin_steps``; an avalanche is a maximal run of non-empty bins."""
    check_sequence("spikes", s)
    b = int(check_range("bin_steps", bin_steps, 1))
    pop = s.sum(-1)                                             # [T, B]
    nb = pop.shape[0] // b
    if nb == 0:
        raise ConfigError(f"bin_steps={b} is longer than the recording ({pop.shape[0]} steps); allowed: <= T")
    counts = pop[: nb * b].reshape(nb, b, -1).sum(1)            # [nb, B]
    counts = torch.cat([counts, torch.zeros_like(counts[:1])]).t().reshape(-1)  # trials separated by a silent bin
    active = counts > 0
    start = active & ~torch.cat([active.new_zeros(1), active[:-1]])
    label = start.cumsum(0) - 1
    n = int(start.sum())
    if n == 0:
        return torch.zeros(0, dtype=s.dtype, device=s.device)
    return torch.zeros(n, dtype=s.dtype, device=s.device).index_add_(0, label[active], counts[active])


def population_bin(s: torch.Tensor) -> int:
    """Avalanche bin width in steps: the mean inter-event interval of the whole population (Beggs & Plenz)."""
    total = float(s.sum())
    return max(1, round(s.shape[0] * s.shape[1] / total)) if total > 0 else 1


def ks_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| (1.0 when either sample is empty)."""
    if a.numel() == 0 or b.numel() == 0:
        return 1.0
    a, b = a.flatten().double().sort()[0], b.flatten().double().sort()[0]
    grid = torch.cat([a, b])
    fa = torch.searchsorted(a, grid, right=True).double() / a.numel()
    fb = torch.searchsorted(b, grid, right=True).double() / b.numel()
    return float((fa - fb).abs().max())


def ks_change_se(before: torch.Tensor, after: torch.Tensor, ref: torch.Tensor, n_resamples: int = 200,
                 seed: int = 0) -> float:
    """Bootstrap s.e. of ``KS(after, ref) - KS(before, ref)``, the sampling noise of a change in KS distance
    from finite ISI or avalanche samples (the three samples resampled independently, ``scipy.stats.bootstrap``).
    0.0 when a sample has fewer than two values: then a KS distance is pinned at 1 and has no spread."""
    from scipy.stats import bootstrap, ks_2samp

    samples = [t.detach().flatten().double().cpu().numpy() for t in (before, after, ref)]
    if min(x.size for x in samples) < 2:
        return 0.0

    def change(b: object, a: object, r: object) -> float:
        return float(ks_2samp(a, r, method="asymp").statistic - ks_2samp(b, r, method="asymp").statistic)

    res = bootstrap(samples, change, n_resamples=n_resamples, vectorized=False, paired=False,
                    method="percentile", rng=seed)
    return float(res.standard_error)


def power_law_exponent(sizes: torch.Tensor, s_min: float = 1.0) -> float:
    """Maximum-likelihood exponent of P(s) ~ s^-alpha for sizes >= ``s_min`` (discrete approximation of
    Clauset, Shalizi & Newman 2009, Eq. 3.7); nan with fewer than two avalanches."""
    x = sizes[sizes >= s_min].double()
    if x.numel() < 2:
        return float("nan")
    return float(1.0 + x.numel() / torch.log(x / (s_min - 0.5)).sum())
