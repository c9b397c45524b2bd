"""Bagley et al. (2018/2020): pre-synaptic pool modification (PSPM). A teacher recurrent LIF network driven by
frozen Poisson inputs generates the target spike trains itself; a student of the same architecture with
independent random weights learns them with PSPM (step annealed linearly to ``lr_final``). The paper's points:
the student reproduces the targets, its learned weights need not approach the teacher's, and the learned
activity has the targets' statistics (inter-spike intervals, neuronal avalanches), shaped by homeostasis.

Measured on one seed per run (``--seeds 0-9``: seeds 0-2 tuned, 3-9 held out):
* the student **free-running** (its recurrent input its own spikes): van Rossum distance to the targets
  at the end over that at initialisation; the teacher-forced distance is a diagnostic, and so is the floor set
  by the network's chaos: the same ratio for the teacher itself with ``noise_levels`` (1, 3, 10 %) Gaussian
  weight noise, each over ``noise_draws`` draws (our diagnostic, not the paper's);
* recurrent-weight correlation with the teacher against a null model: the correlation of ``n_null`` pairs
  of independently initialised networks (mean and spread) and the z-score of the learned correlation;
* ISI distributions and avalanche-size distributions (bin = population mean inter-event interval,
  Beggs & Plenz 2003) of student and teacher: two-sample KS distance at initialisation and after training,
  for PSPM and for a homeostasis-only student (rate matching without the timing terms).

Deviations from the paper (no reference code exists; also in ``STUDY.deviations``):
* sizes: small uses 30 neurons, 50 inputs, 2 trials of 300 ms (the paper's networks are larger);
* LIF with current synapses and refractoriness from our substrate, not the paper's exact neuron model;
* the pre-synaptic pool is the student's own spikes (free-running training); the tolerance, step sizes,
  homeostatic rate, annealing floor and iterations were tuned on seed 0, and the window (12 ms) on seeds 0-2
  (free-running ratio, mean over the three seeds), not taken from the paper;
* the >= 2x distance reduction is the issue's criterion; the paper reports similarity curves, not this ratio;
* the weight-correlation threshold (``max_corr``) and the KS comparisons are our criteria for the paper's
  qualitative claims; a KS change within 2 bootstrap s.e. of zero (``ks_change_se``: ISI or avalanche samples
  resampled) is INCONCLUSIVE.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from ..spiking.encoders import poisson_encode
from ..spiking.layers import RecurrentLIFLayer
from ..spiking.metrics import van_rossum_distance
from ..spiking.neurons import LIFParameters
from ..spiking.pspm import (
    PSPM,
    avalanche_sizes,
    interspike_intervals,
    ks_change_se,
    ks_distance,
    population_bin,
    power_law_exponent,
    run_recurrent,
)
from .base import Study, StudyContext
from .checks import Check


def random_network(cfg: dict[str, Any], g: torch.Generator, device: torch.device | str) -> RecurrentLIFLayer:
    """Recurrent LIF layer with input weights N(w_in, w_in_sd^2) and recurrent weights N(0, g_rec^2 / n)."""
    p = LIFParameters(dt=cfg["dt"], tau_mem=cfg["tau_mem"], tau_syn=cfg["tau_syn"], t_ref=cfg["t_ref"])
    m = RecurrentLIFLayer(cfg["n_in"], cfg["n"], p)
    with torch.no_grad():
        m.fc.weight.copy_(cfg["w_in"] + cfg["w_in_sd"] * torch.randn(cfg["n"], cfg["n_in"], generator=g))
        m.rec.weight.copy_(cfg["g_rec"] * torch.randn(cfg["n"], cfg["n"], generator=g) / cfg["n"] ** 0.5)
        m.rec.weight.mul_(m.rec_mask)
    return m.to(device)


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.detach().flatten(), b.detach().flatten()]))[0, 1])


def weight_correlations(student: RecurrentLIFLayer, teacher: RecurrentLIFLayer) -> tuple[float, float]:
    """Pearson correlation (recurrent off-diagonal weights, input weights) between student and teacher."""
    mask = teacher.rec_mask > 0
    return (_corr(student.rec.weight[mask], teacher.rec.weight[mask]),
            _corr(student.fc.weight, teacher.fc.weight))


def null_correlations(cfg: dict[str, Any], seed: int) -> list[float]:
    """Recurrent-weight correlations of ``n_null`` pairs of independently initialised networks."""
    g = torch.Generator().manual_seed(10_000_019 + seed)
    return [weight_correlations(random_network(cfg, g, "cpu"), random_network(cfg, g, "cpu"))[0]
            for _ in range(cfg["n_null"])]


def perturbed_teacher_distances(cfg: dict[str, Any], teacher: RecurrentLIFLayer, x: torch.Tensor, y: torch.Tensor,
                                seed: int) -> list[float]:
    """Free-running distance to the targets of the teacher itself with Gaussian noise of ``eps`` x each weight
    matrix's s.d. added, mean over ``noise_draws`` draws, for each ``eps`` in ``noise_levels``: how far the
    network's own chaos carries a near-copy of the generator from its trains (the floor a student can reach)."""
    g = torch.Generator().manual_seed(20_000_033 + seed)
    out = []
    for eps in cfg["noise_levels"]:
        ds = []
        for _ in range(cfg["noise_draws"]):
            m = copy.deepcopy(teacher)
            with torch.no_grad():
                for w in (m.fc.weight, m.rec.weight):
                    w.add_(eps * w.std() * torch.randn(w.shape, generator=g).to(w.device))
                m.rec.weight.mul_(m.rec_mask)
            ds.append(_mean_distance(cfg, run_recurrent(m, x), y))
        out.append(sum(ds) / len(ds))
    return out


def spike_samples(s: torch.Tensor, bin_steps: int, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The inter-spike intervals (ms) and avalanche sizes of spike trains ``s``."""
    return interspike_intervals(s, dt), avalanche_sizes(s, bin_steps)


def spike_statistics(z: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                     y: torch.Tensor | tuple[torch.Tensor, torch.Tensor], bin_steps: int, dt: float
                     ) -> dict[str, float]:
    """ISI and avalanche-size statistics of ``z`` and their KS distance to those of the targets ``y``; either may
    be given as its :func:`spike_samples` already computed."""
    (isi_z, av_z), (isi_y, av_y) = (v if isinstance(v, tuple) else spike_samples(v, bin_steps, dt) for v in (z, y))
    cv = lambda v: float(v.std() / v.mean()) if v.numel() > 1 else float("nan")  # noqa: E731
    return {"isi_ks": ks_distance(isi_z, isi_y), "isi_mean_ms": float(isi_z.mean()) if isi_z.numel() else math.nan,
            "isi_cv": cv(isi_z), "aval_ks": ks_distance(av_z, av_y), "aval_n": int(av_z.numel()),
            "aval_mean": float(av_z.mean()) if av_z.numel() else math.nan,
            "aval_exponent": power_law_exponent(av_z)}


def _train(cfg: dict[str, Any], student: RecurrentLIFLayer, x: torch.Tensor, y: torch.Tensor, seed: int,
           iterations: int, eta: float) -> list[tuple[int, float, float]]:
    """PSPM on ``student`` for ``iterations`` steps; the curve (iteration, free, forced distance)."""
    rule = PSPM(eta_plus=eta, eta_minus=eta, p_select=cfg["p_select"], window=cfg["window"],
                tolerance=cfg["tolerance"], eta_homeo=cfg["eta_homeo"], tau_vr=cfg["tau_vr"],
                teacher_forcing=cfg["teacher_forcing"], seed=seed)
    rule.prepare(student)
    opt = torch.optim.SGD(student.parameters(), lr=1.0)  # lr=1 applies PSPM's change exactly
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: 1.0 - (1.0 - cfg["lr_final"]) * min(k / iterations, 1.0))
    curve = [(0, *distances(cfg, student, x, y))]
    for it in range(1, iterations + 1):
        rule.step(student, x, y)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        if it % cfg["eval_every"] == 0 or it == iterations:
            curve.append((it, *distances(cfg, student, x, y)))
    return curve


def distances(cfg: dict[str, Any], student: RecurrentLIFLayer, x: torch.Tensor, y: torch.Tensor
              ) -> tuple[float, float]:
    """Mean van Rossum distance to the targets, free-running and teacher-forced."""
    free, forced = (_mean_distance(cfg, run_recurrent(student, x, z_rec), y) for z_rec in (None, y))
    return free, forced


def _mean_distance(cfg: dict[str, Any], z: torch.Tensor, y: torch.Tensor) -> float:
    """Mean van Rossum distance of spike trains ``z`` to the targets ``y`` (time first)."""
    return float(van_rossum_distance(z.flatten(1), y.flatten(1), cfg["tau_vr"], cfg["dt"]).mean())


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    seed = ctx.seed
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    teacher = random_network(cfg, g, ctx.device)
    student_state = random_network(cfg, g, ctx.device).state_dict()
    x = poisson_encode(torch.ones(cfg["batch"], cfg["n_in"]), cfg["n_steps"], cfg["input_rate"], cfg["dt"],
                       generator=g).to(ctx.device)
    y = run_recurrent(teacher, x)
    bin_steps = population_bin(y)

    def fresh() -> RecurrentLIFLayer:
        m = random_network(cfg, torch.Generator().manual_seed(0), ctx.device)
        m.load_state_dict(student_state)
        return m

    student = fresh()
    corr0 = weight_correlations(student, teacher)
    samples_y = spike_samples(y, bin_steps, cfg["dt"])
    samples0 = spike_samples(run_recurrent(student, x), bin_steps, cfg["dt"])
    stats0 = spike_statistics(samples0, samples_y, bin_steps, cfg["dt"])
    curve = _train(cfg, student, x, y, seed, cfg["iterations"], cfg["eta"])
    corr = weight_correlations(student, teacher)
    z = run_recurrent(student, x)
    samples = spike_samples(z, bin_steps, cfg["dt"])
    stats = spike_statistics(samples, samples_y, bin_steps, cfg["dt"])
    # sampling noise of each KS change (finite ISI / avalanche samples): the checks' noise margin
    ks_se = {key: ks_change_se(samples0[i], samples[i], samples_y[i], seed=seed)
             for i, key in enumerate(("isi", "aval"))}
    null = null_correlations(cfg, seed)
    null_mean = sum(null) / len(null)
    null_sd = (sum((c - null_mean) ** 2 for c in null) / max(len(null) - 1, 1)) ** 0.5
    homeo: dict[str, float] = {}
    if cfg["homeo_iterations"] > 0:       # homeostasis only: the timing terms off, rates matched
        h = fresh()
        _train({**cfg, "eval_every": cfg["homeo_iterations"]}, h, x, y, seed, cfg["homeo_iterations"], 0.0)
        samples_h = spike_samples(run_recurrent(h, x), bin_steps, cfg["dt"])
        homeo = spike_statistics(samples_h, samples_y, bin_steps, cfg["dt"])
        ks_se["aval_homeo"] = ks_change_se(samples0[1], samples_h[1], samples_y[1], seed=seed)
    noisy = perturbed_teacher_distances(cfg, teacher, x, y, seed)
    rate = lambda s: float(s.mean()) * 1000.0 / cfg["dt"]  # noqa: E731
    teacher_stats = spike_statistics(samples_y, samples_y, bin_steps, cfg["dt"])
    m = {"iterations": [c[0] for c in curve], "vr_free": [c[1] for c in curve], "vr_forced": [c[2] for c in curve],
         "vr_ratio_free": curve[-1][1] / curve[0][1], "vr_ratio_forced": curve[-1][2] / curve[0][2],
         "rec_corr_init": corr0[0], "rec_corr": corr[0], "in_corr_init": corr0[1], "in_corr": corr[1],
         "null_corr_mean": null_mean, "null_corr_sd": null_sd,
         "rec_corr_z": (corr[0] - null_mean) / null_sd if null_sd > 0 else math.nan,
         "teacher_rate_hz": rate(y), "student_rate_hz": rate(z), "aval_bin_ms": bin_steps * cfg["dt"],
         "teacher": teacher_stats, "student_init": stats0, "student": stats, "homeostasis_only": homeo,
         "ks_change_se": ks_se, "noise_levels": list(cfg["noise_levels"]), "teacher_noise_vr_free": noisy,
         "teacher_noise_ratio_free": [d / curve[0][1] for d in noisy]}
    ctx.log(f"pspm seed {seed}: vR free {curve[0][1]:.3f} -> {curve[-1][1]:.3f} (ratio {m['vr_ratio_free']:.3f}), "
            f"forced ratio {m['vr_ratio_forced']:.3f}; rec corr {corr[0]:.3f} vs null {null_mean:.3f} +- {null_sd:.3f}; "
            f"ISI KS {stats0['isi_ks']:.3f} -> {stats['isi_ks']:.3f}; aval KS {stats0['aval_ks']:.3f} -> "
            f"{stats['aval_ks']:.3f}")
    _figure(m, z, y, bin_steps, ctx)
    return m


def _figure(m: dict[str, Any], z: torch.Tensor, y: torch.Tensor, bin_steps: int, ctx: StudyContext) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    axes[0].plot(m["iterations"], m["vr_free"], c="C1", label="free-running")
    axes[0].plot(m["iterations"], m["vr_forced"], c="C0", alpha=0.7, label="teacher-forced (diagnostic)")
    for eps, d in zip(m["noise_levels"], m["teacher_noise_vr_free"], strict=True):
        axes[0].axhline(d, c="grey", lw=0.8, ls=":")
        axes[0].annotate(f"teacher + {100 * eps:g}% weight noise", (m["iterations"][-1], d), fontsize=6,
                         ha="right", va="bottom", color="grey")
    axes[0].set_xlabel("PSPM iterations")
    axes[0].set_ylabel("van Rossum distance to targets")
    axes[0].legend(fontsize=7)
    for s, name in ((y, "teacher"), (z, "student")):
        isi = interspike_intervals(s).cpu()
        if isi.numel():
            axes[1].hist(isi.numpy(), bins=30, range=(0, float(isi.max()) + 1), histtype="step", density=True,
                         label=name)
        av = avalanche_sizes(s, bin_steps).cpu()
        if av.numel():
            vals, counts = torch.unique(av, return_counts=True)
            axes[2].loglog(vals.numpy(), (counts / counts.sum()).numpy(), "o", ms=3, label=name)
    axes[1].set_xlabel("ISI (ms)")
    axes[1].legend(fontsize=7)
    axes[2].set_xlabel(f"avalanche size (bin {bin_steps} steps)")
    axes[2].set_ylabel("P(size)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("pspm.png"))
    plt.close(fig)


def checks(m: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    s0, s, h = m["student_init"], m["student"], m["homeostasis_only"]
    ks_se = m.get("ks_change_se", {})  # bootstrap s.e. of each KS change (records before it have none)
    out = [
        Check("free-running van Rossum distance, final over initial", m["vr_ratio_free"], "<=", cfg["target_ratio"],
              detail=f"teacher-forced ratio {m['vr_ratio_forced']:.3f} (diagnostic)" + (
                  "; the teacher itself with weight noise " + ", ".join(
                      f"{100 * e:g}%: {r:.3f}" for e, r in zip(m["noise_levels"], m["teacher_noise_ratio_free"],
                                                            strict=True)) if "noise_levels" in m else "")),
        Check("student-teacher recurrent weight correlation stays low", m["rec_corr"], "<", cfg["max_corr"],
              detail=f"null (independent networks) {m['null_corr_mean']:.3f} +- {m['null_corr_sd']:.3f}, learned z = "
                     f"{m['rec_corr_z']:.1f}, initial {m['rec_corr_init']:.3f}"),
        Check("ISI distribution: KS distance to the targets' falls (final minus initial)", s["isi_ks"] - s0["isi_ks"],
              "<", 0.0, se=ks_se.get("isi"), detail=f"{s0['isi_ks']:.3f} -> {s['isi_ks']:.3f}"),
        Check("avalanche sizes: KS distance to the targets' falls (final minus initial)",
              s["aval_ks"] - s0["aval_ks"], "<", 0.0, se=ks_se.get("aval"),
              detail=f"{s0['aval_ks']:.3f} -> {s['aval_ks']:.3f}"),
    ]
    if h:
        out.append(Check("homeostasis alone: avalanche-size KS distance falls (final minus initial)",
                         h["aval_ks"] - s0["aval_ks"], "<", 0.0, se=ks_se.get("aval_homeo"),
                         detail=f"{s0['aval_ks']:.3f} -> {h['aval_ks']:.3f}",
                         seed_rate=0.8))
    return out


_NET = {"dt": 1.0, "tau_mem": 20.0, "tau_syn": 5.0, "t_ref": 2.0, "w_in": 0.2, "w_in_sd": 0.15, "g_rec": 1.0,
        "input_rate": 20.0, "eta": 0.02, "p_select": 0.5, "window": 12.0, "tolerance": 2.0, "eta_homeo": 0.005,
        "tau_vr": 10.0, "max_corr": 0.5, "lr_final": 0.05, "teacher_forcing": False, "n_null": 200,
        "target_ratio": 0.5, "noise_levels": [0.01, 0.03, 0.1], "noise_draws": 5}

STUDY = Study(
    name="pspm",
    title="Pre-synaptic pool modification (PSPM): a supervised learning procedure for recurrent spiking neural "
          "networks",
    authors="Bagley, Bordelon, Moseley & Wessel",
    year=2020,
    url="https://arxiv.org/abs/1810.03199",
    claim="Stochastic pre-synaptic pool updates make a recurrent LIF network reproduce target spike trains, while "
          "the learned weights need not match those of the network that generated the targets.",
    scales={
        "smoke": {**_NET, "n": 20, "n_in": 40, "batch": 2, "n_steps": 200, "iterations": 40, "eval_every": 20,
                  "homeo_iterations": 10, "n_null": 20, "target_ratio": 1.0},
        "small": {**_NET, "n": 30, "n_in": 50, "batch": 2, "n_steps": 300, "iterations": 1500, "eval_every": 150,
                  "homeo_iterations": 100},
        "paper": {**_NET, "n": 200, "n_in": 100, "batch": 8, "n_steps": 1000, "iterations": 3000,
                  "eval_every": 100, "homeo_iterations": 500},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"weights": "learned weights need not match those of the target-generating network",
                  "claim": "spike-train distance falls; ISI and avalanche statistics of the targets are learned"},
    deviations=[
        "small: 30 neurons, 50 inputs, 2 trials of 300 ms; the paper's networks are larger",
        "LIF with current synapses and a 2 ms refractory period from our substrate, not the paper's neuron model",
        "free-running training: the pre-synaptic pool is the student's own spikes; tolerance, step sizes, "
        "homeostatic rate, annealing floor (lr_final 0.05) and small iterations (1500) tuned on seed 0, the window "
        "(12 ms; 20 ms before) on seeds 0-2 by the mean free-running ratio; not the paper's values (no reference "
        "code)",
        "the >= 2x fall of the free-running distance is the issue's criterion, not a number from the paper",
        "max_corr and the KS-falls comparisons are our criteria for the paper's qualitative claims; the KS "
        "changes carry a bootstrap noise margin (2 s.e., 200 resamples of the ISI / avalanche samples)",
    ],
    tuned_seeds=(0, 1, 2),
    limits={"noise_draws": (1, None)},
)
