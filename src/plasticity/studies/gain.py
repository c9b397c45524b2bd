"""Duong et al. (2023): per-neuron gain changes in a recurrent population reproduce adaptation effects.

An orientation-tuned ring network (fixed recurrent W, circuits/gain.py) adapts only its gains, by gradient
descent on an efficient-coding objective (single-neuron information minus alpha x activity), to a biased
ensemble with a bump of probability at the adapter. Parts:

* analytic gains: the objective's closed-form optimum g_i^2 = [1/(2 alpha m_i) - sigma^2/v_i]_+ for each
  neuron's input statistics (circuits/gain.py docstring), computed (a) from the feedforward drive and (b)
  self-consistently with the recurrent input the gains produce; the optimiser's gains are compared with both
  (Pearson correlation, largest difference);
* adaptation effects of the optimised gains: reduced responses near the adapter, repulsion of flank neurons'
  preferred orientations away from it, and decorrelation of the population's responses;
* reported alongside: the same population without recurrence (radius ~0; there gains only rescale tuning
  curves, so nothing is repelled or decorrelated, which a unit test pins), and today's population-information
  objective.

Seeds draw the adapter orientation and each neuron's tuning width (kappa x exp(jitter x N(0, 1))).

Deviations from the paper:
* the paper's exact objective and its closed-form gains were not available offline (no text or code in reach);
  our objective is our reading of its fidelity-vs-activity trade-off, with Gaussian output noise, and the
  closed form is derived for it (per neuron, its recurrent input held at the statistics the gains produce);
* no fit to the published V1 adaptation data (Benucci et al. 2013): the effects are checked qualitatively;
* a linear rate network with spectral radius 0.8 and gains bounded in (0, 1.2) for stability; the paper's
  connectivity and stimulus ensemble may differ;
* lyndond/frame_whitening (related, not this paper's code) adapts interneuron gains to whiten; we do not model
  interneurons.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..circuits.gain import (
    GainPopulation,
    adapt_gains,
    adapter_prior,
    analytic_gains,
    mean_abs_correlation,
    preferred_orientation,
    self_consistent_gains,
    stimulus_moments,
    wrap_orientation,
)
from .base import Study, StudyContext
from .checks import Check


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu().numpy(), b.double().cpu().numpy()
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _experiment(cfg: dict[str, Any], seed: int, device: torch.device, radius: float, fidelity: str,
                width: float | None = None) -> dict[str, Any]:
    n, k = cfg["neurons"], cfg["stimuli"]
    model = GainPopulation(n, kappa=cfg["kappa"], w_exc=cfg["w_exc"], w_inh=cfg["w_inh"],
                           width=cfg["width"] if width is None else width, radius=radius, g_max=cfg["g_max"],
                           device=device)
    g = torch.Generator().manual_seed(seed)
    model.kappa = (cfg["kappa"] * torch.exp(cfg["kappa_jitter"] * torch.randn(n, generator=g, dtype=torch.float64))
                   ).to(device)                                     # heterogeneous tuning widths (per neuron)
    stim = torch.arange(k, device=device, dtype=torch.float64) * math.pi / k
    i_ad = int(torch.randint(k, (1,), generator=g))
    i_orth = (i_ad + k // 2) % k
    adapter = float(stim[i_ad])
    p = adapter_prior(stim, adapter, cfg["adapter_weight"])
    h = model.drive(stim)
    cov, second = stimulus_moments(h, p)
    with torch.no_grad():
        r0 = model(h)
    losses = adapt_gains(model, stim, p, noise_var=cfg["noise_var"], alpha=cfg["alpha"], steps=cfg["steps"],
                         lr=cfg["lr"], fidelity=fidelity)
    with torch.no_grad():
        r1 = model(h)
        gains = model.gains.clone()
    ff = analytic_gains(cov.diagonal(), second.diagonal(), cfg["noise_var"], cfg["alpha"]).clamp(max=cfg["g_max"])
    sc = self_consistent_gains(model.weight, cov, second, cfg["noise_var"], cfg["alpha"], cfg["g_max"])
    rel = wrap_orientation(model.preferred - adapter)
    shift = wrap_orientation(preferred_orientation(r1, stim) - preferred_orientation(r0, stim))
    lo, hi = math.radians(cfg["flank_deg"][0]), math.radians(cfg["flank_deg"][1])
    flank = (rel.abs() >= lo) & (rel.abs() <= hi)
    away = torch.sign(rel) * shift                                       # > 0: shifted away from the adapter
    near, far = rel.abs() <= lo, rel.abs() >= math.radians(60)
    return {
        "adapter_deg": math.degrees(adapter),
        "gains": [float(v) for v in gains], "analytic_feedforward": [float(v) for v in ff],
        "analytic_self_consistent": [float(v) for v in sc],
        "corr_analytic_feedforward": _corr(gains, ff), "corr_analytic_self_consistent": _corr(gains, sc),
        "max_diff_self_consistent": float((gains - sc).abs().max()),
        "max_diff_feedforward": float((gains - ff).abs().max()),
        "corr_before": mean_abs_correlation(r0, p), "corr_after": mean_abs_correlation(r1, p),
        "repulsion_deg": math.degrees(float(away[flank].mean())),
        "repulsion_frac": float((away[flank] > 0).double().mean()),
        "resp_adapter_before": float(r0[i_ad].mean()), "resp_adapter_after": float(r1[i_ad].mean()),
        "resp_orth_before": float(r0[i_orth].mean()), "resp_orth_after": float(r1[i_orth].mean()),
        "gain_near": float(gains[near].mean()), "gain_far": float(gains[far].mean()),
        "loss_first": losses[0], "loss_last": losses[-1], "min_response_after": float(r1.min()),
        "_curves": (stim.cpu(), r0.cpu(), r1.cpu(), gains.cpu(), ff.cpu(), sc.cpu(), rel.cpu(), away.cpu()),
    }


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    torch.set_num_threads(1)
    main = _experiment(cfg, ctx.seed, ctx.device, cfg["radius"], "neuron")
    curves = main.pop("_curves")
    ctx.log(f"[analytic] optimised vs closed-form gains: Pearson r {main['corr_analytic_self_consistent']:.4f} "
            f"(self-consistent, max |diff| {main['max_diff_self_consistent']:.3f}), "
            f"{main['corr_analytic_feedforward']:.4f} (from the feedforward drive, max |diff| "
            f"{main['max_diff_feedforward']:.3f})")
    ctx.log(f"[effects] adapter at {main['adapter_deg']:.1f} deg: |corr| {main['corr_before']:.4f} -> "
            f"{main['corr_after']:.4f}; repulsion {main['repulsion_deg']:.3f} deg ({main['repulsion_frac']:.0%} of "
            f"flank neurons); response to adapter {main['resp_adapter_before']:.3f} -> {main['resp_adapter_after']:.3f}, "
            f"to orthogonal {main['resp_orth_before']:.3f} -> {main['resp_orth_after']:.3f}; gains near/far "
            f"{main['gain_near']:.3f}/{main['gain_far']:.3f}")
    metrics: dict[str, Any] = dict(main)
    ff = _experiment(cfg, ctx.seed, ctx.device, cfg["feedforward_radius"], "neuron")
    ff.pop("_curves")
    metrics["no_recurrence"] = {k: ff[k] for k in ("corr_before", "corr_after", "repulsion_deg",
                                                   "corr_analytic_feedforward", "max_diff_feedforward")}
    ctx.log(f"[no recurrence] |corr| {ff['corr_before']:.4f} -> {ff['corr_after']:.4f}; repulsion "
            f"{ff['repulsion_deg']:.3f} deg; optimised vs closed form r {ff['corr_analytic_feedforward']:.5f}, "
            f"max |diff| {ff['max_diff_feedforward']:.2e}")
    pop = _experiment({**cfg, "alpha": cfg["population_alpha"]}, ctx.seed, ctx.device, cfg["radius"], "population")
    pop.pop("_curves")
    metrics["population_objective"] = {k: pop[k] for k in ("corr_before", "corr_after", "repulsion_deg",
                                                           "resp_adapter_after", "resp_orth_after")}
    ctx.log(f"[population information objective, alpha {cfg['population_alpha']:g}] |corr| {pop['corr_before']:.4f} "
            f"-> {pop['corr_after']:.4f}; repulsion {pop['repulsion_deg']:.3f} deg")
    sens = {}
    for w in cfg["sensitivity_widths"]:
        res = _experiment(cfg, ctx.seed, ctx.device, cfg["radius"], "neuron", width=w)
        res.pop("_curves")
        sens[str(w)] = {k: res[k] for k in ("corr_before", "corr_after", "repulsion_deg", "resp_adapter_after",
                                            "resp_orth_after", "corr_analytic_self_consistent")}
        ctx.log(f"[width {w}] repulsion {res['repulsion_deg']:.3f} deg, |corr| {res['corr_before']:.4f} -> "
                f"{res['corr_after']:.4f}, analytic r {res['corr_analytic_self_consistent']:.4f}")
    metrics["sensitivity_width"] = sens
    _figure(ctx, curves)
    return metrics


def _figure(ctx: StudyContext, curves: tuple) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stim, r0, r1, g, ff, sc, rel, away = curves
    deg = stim.numpy() * 180 / math.pi
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    n = r0.shape[1]
    for j in range(0, n, max(n // 8, 1)):
        line, = axes[0].plot(deg, r0[:, j].numpy(), "--", lw=1)
        axes[0].plot(deg, r1[:, j].numpy(), "-", lw=1.5, color=line.get_color())
    axes[0].set(xlabel="orientation (deg)", ylabel="response", title="tuning: before (--) / after (-)")
    order = torch.argsort(rel)
    x = rel[order].numpy() * 180 / math.pi
    axes[1].plot(x, g[order].numpy(), "o-", label="optimised")
    axes[1].plot(x, sc[order].numpy(), "x--", label="closed form (self-consistent)")
    axes[1].plot(x, ff[order].numpy(), ":", label="closed form (feedforward drive)")
    axes[1].set(xlabel="preferred - adapter (deg)", ylabel="gain", title="adapted gains")
    axes[1].legend(fontsize=7)
    axes[2].plot(x, away[order].numpy() * 180 / math.pi, "o-")
    axes[2].axhline(0, color="k", lw=0.8)
    axes[2].set(xlabel="preferred - adapter (deg)", ylabel="shift away from adapter (deg)", title="tuning shift")
    fig.tight_layout()
    fig.savefig(ctx.figure_path("gain.png"), dpi=100)
    plt.close(fig)


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    m = metrics
    return [
        Check("optimised gains follow the closed-form optimal gains (Pearson r, self-consistent)",
              m["corr_analytic_self_consistent"], ">=", 0.95,
              detail=f"max |diff| {m['max_diff_self_consistent']:.3f}; vs the feedforward-drive closed form "
                     f"r {m['corr_analytic_feedforward']:.4f}"),
        Check("decorrelation: mean |pairwise response corr| falls after adaptation (after - before)",
              m["corr_after"] - m["corr_before"], "<", 0.0,
              detail=f"{m['corr_before']:.4f} -> {m['corr_after']:.4f}; without recurrence "
                     f"{m['no_recurrence']['corr_before']:.4f} -> {m['no_recurrence']['corr_after']:.4f}"),
        Check("tuning repulsion: flank neurons' preferred orientations shift away from the adapter (deg)",
              m["repulsion_deg"], ">", 0.0,
              detail=f"{m['repulsion_frac']:.0%} of flank neurons {cfg['flank_deg']} deg shift away; without "
                     f"recurrence {m['no_recurrence']['repulsion_deg']:.3f} deg"),
        Check("reduced response near the adapter: response to the adapter after / before",
              m["resp_adapter_after"] / m["resp_adapter_before"], "<", 1.0),
        Check("response to the adapter falls below the response to the orthogonal orientation (ratio after)",
              m["resp_adapter_after"] / m["resp_orth_after"], "<", 1.0,
              detail=f"before: {m['resp_adapter_before'] / m['resp_orth_before']:.3f}"),
    ]


_BASE = {"kappa": 2.0, "kappa_jitter": 0.2, "w_exc": 1.0, "w_inh": 0.2, "width": 1.0, "radius": 0.8,
         "feedforward_radius": 1e-4, "g_max": 1.2, "alpha": 6.0, "population_alpha": 0.3, "noise_var": 0.01,
         "adapter_weight": 0.7, "lr": 0.05, "flank_deg": [5.0, 45.0]}

STUDY = Study(
    name="gain",
    title="Adaptive coding efficiency in recurrent cortical circuits via gain control",
    authors="Duong, Bredenberg, Heeger & Simoncelli",
    year=2023,
    url="https://arxiv.org/abs/2305.19869",
    claim="single-neuron gain changes, set by a closed-form efficient-coding optimum and propagated through a "
          "recurrent network, reproduce adaptation effects: reduced responses near the adapter, tuning repulsion, "
          "response decorrelation",
    scales={
        "smoke": {**_BASE, "neurons": 16, "stimuli": 32, "steps": 300, "sensitivity_widths": []},
        "small": {**_BASE, "neurons": 32, "stimuli": 64, "steps": 1500, "sensitivity_widths": [0.5, 2.0]},
        "paper": {**_BASE, "neurons": 64, "stimuli": 180, "steps": 4000, "sensitivity_widths": [0.5, 2.0, 3.0]},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"analytic_gains": "closed-form gains optimise the fidelity-activity trade-off",
                  "effects": "reduced adapter responses, repulsion, decorrelation (qualitative; V1 data of "
                             "Benucci et al. 2013 not included)"},
    deviations=[
        "objective and closed-form gains are our derivation (paper text and code not available offline): "
        "single-neuron Gaussian-channel information minus alpha x squared activity; closed form per neuron with "
        "its recurrent input held at the statistics the gains produce",
        "effects checked qualitatively; no fit to the V1 adaptation data of Benucci et al. 2013",
        "linear rate ring network (spectral radius 0.8, gains bounded in (0, 1.2) for stability), von Mises "
        "tuning with seeded per-neuron widths and a von Mises adapter bump; the paper's network may differ",
        "no interneurons (lyndond/frame_whitening, a related model, adapts interneuron gains to whiten)",
    ],
    tuned_seeds=(0,),
    limits={"adapter_weight": (0.0, 1.0), "alpha": (0.0, None), "population_alpha": (0.0, None), "noise_var": (0.0, None),
            "radius": (0.0, 1.0), "feedforward_radius": (0.0, 1.0), "kappa_jitter": (0.0, None)},
)
