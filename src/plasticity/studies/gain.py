"""Duong et al. (2023): per-neuron gain changes in a recurrent population reproduce adaptation effects.

An orientation-tuned ring network adapts only its gains (efficient-coding objective, circuits/gain.py) to a
biased ensemble (a bump of probability at the adapter). Measured: mean |pairwise response correlation| over
the ensemble before vs after, shift of preferred orientations of flank neurons away from the adapter, and
response to the adapter vs to the orthogonal orientation. A sensitivity run with narrow lateral excitation
is reported alongside (the size of the repulsion and of the decorrelation depends on the recurrent
connectivity; with broad inhibition the linear network's rates go negative, so the default keeps them >= 0).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from ..circuits.gain import (
    GainPopulation,
    adapt_gains,
    adapter_prior,
    mean_abs_correlation,
    preferred_orientation,
    wrap_orientation,
)
from .base import CheckResult, Study, StudyContext


def _experiment(cfg: dict[str, Any], width: float, device: torch.device) -> dict[str, Any]:
    n, k = cfg["neurons"], cfg["stimuli"]
    model = GainPopulation(n, kappa=cfg["kappa"], w_exc=cfg["w_exc"], w_inh=cfg["w_inh"], width=width,
                           radius=cfg["radius"], g_max=cfg["g_max"], device=device)
    stim = torch.arange(k, device=device, dtype=torch.float64) * math.pi / k
    adapter = float(stim[k // 2])
    p = adapter_prior(stim, adapter, cfg["adapter_weight"])
    h = model.drive(stim)
    with torch.no_grad():
        r0 = model(h)
    losses = adapt_gains(model, stim, p, noise_var=cfg["noise_var"], alpha=cfg["alpha"], steps=cfg["steps"],
                         lr=cfg["lr"])
    with torch.no_grad():
        r1 = model(h)
        g = model.gains.clone()
    rel = wrap_orientation(model.preferred - adapter)
    shift = wrap_orientation(preferred_orientation(r1, stim) - preferred_orientation(r0, stim))
    lo, hi = math.radians(cfg["flank_deg"][0]), math.radians(cfg["flank_deg"][1])
    flank = (rel.abs() >= lo) & (rel.abs() <= hi)
    away = torch.sign(rel) * shift                                       # > 0: shifted away from the adapter
    i_ad, i_orth = k // 2, 0
    near = rel.abs() <= math.radians(cfg["flank_deg"][0])
    far = rel.abs() >= math.radians(60)
    return {
        "corr_before": mean_abs_correlation(r0, p), "corr_after": mean_abs_correlation(r1, p),
        "repulsion_deg": math.degrees(float(away[flank].mean())),
        "repulsion_frac": float((away[flank] > 0).double().mean()),
        "resp_adapter_before": float(r0[i_ad].mean()), "resp_adapter_after": float(r1[i_ad].mean()),
        "resp_orth_before": float(r0[i_orth].mean()), "resp_orth_after": float(r1[i_orth].mean()),
        "gain_near": float(g[near].mean()), "gain_far": float(g[far].mean()),
        "loss_first": losses[0], "loss_last": losses[-1],
        "min_response_before": float(r0.min()), "min_response_after": float(r1.min()),
        "far_shift_deg": math.degrees(float(away[rel.abs() > hi].mean())) if bool((rel.abs() > hi).any()) else 0.0,
        "_curves": (stim.cpu(), r0.cpu(), r1.cpu(), g.cpu(), rel.cpu(), away.cpu(), p.cpu()),
    }


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    main = _experiment(cfg, cfg["width"], ctx.device)
    curves = main.pop("_curves")
    ctx.log(f"|corr| {main['corr_before']:.4f} -> {main['corr_after']:.4f}; repulsion {main['repulsion_deg']:.3f} deg "
            f"({main['repulsion_frac']:.0%} of flank neurons); response to adapter {main['resp_adapter_before']:.3f} "
            f"-> {main['resp_adapter_after']:.3f}, to orthogonal {main['resp_orth_before']:.3f} -> "
            f"{main['resp_orth_after']:.3f}; min response {main['min_response_before']:.3f} -> "
            f"{main['min_response_after']:.3f}; far neurons (> flank) shift {main['far_shift_deg']:.2f} deg")
    metrics: dict[str, Any] = dict(main)
    sens = {}
    for w in cfg["sensitivity_widths"]:
        res = _experiment(cfg, w, ctx.device)
        res.pop("_curves")
        sens[str(w)] = {k: res[k] for k in ("corr_before", "corr_after", "repulsion_deg", "resp_adapter_after",
                                            "resp_orth_after", "min_response_before")}
        ctx.log(f"width {w}: repulsion {res['repulsion_deg']:.3f} deg, |corr| {res['corr_before']:.4f} -> "
                f"{res['corr_after']:.4f}")
    metrics["sensitivity_width"] = sens
    _figure(ctx, curves)
    return metrics


def _figure(ctx: StudyContext, curves: tuple) -> None:
    stim, r0, r1, g, rel, away, _p = curves
    deg = stim.numpy() * 180 / math.pi
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    n = r0.shape[1]
    for j in range(0, n, max(n // 8, 1)):
        line, = axes[0].plot(deg, r0[:, j].numpy(), "--", lw=1)
        axes[0].plot(deg, r1[:, j].numpy(), "-", lw=1.5, color=line.get_color())
    axes[0].axvline(deg[len(deg) // 2], color="k", lw=0.8)
    axes[0].set(xlabel="orientation (deg)", ylabel="response", title="tuning: before (--) / after (-)")
    order = torch.argsort(rel)
    axes[1].plot(rel[order].numpy() * 180 / math.pi, g[order].numpy(), "o-")
    axes[1].set(xlabel="preferred - adapter (deg)", ylabel="gain", title="adapted gains")
    axes[2].plot(rel[order].numpy() * 180 / math.pi, away[order].numpy() * 180 / math.pi, "o-")
    axes[2].axhline(0, color="k", lw=0.8)
    axes[2].set(xlabel="preferred - adapter (deg)", ylabel="shift away from adapter (deg)", title="tuning shift")
    fig.tight_layout()
    fig.savefig(ctx.figure_path("gain.png"), dpi=100)
    plt.close(fig)


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[CheckResult]:
    m = metrics
    return [
        CheckResult("decorrelation: mean |pairwise corr| falls after adaptation", m["corr_after"], m["corr_before"],
                    m["corr_after"] < m["corr_before"], "paper: before value shown; claim is a decrease"),
        CheckResult("tuning repulsion: flank neurons shift away from the adapter (deg)", m["repulsion_deg"],
                    "> 0", m["repulsion_deg"] > 0,
                    f"{m['repulsion_frac']:.0%} of flank neurons {cfg['flank_deg']} deg shift away"),
        CheckResult("reduced response near the adapter (adapter / orthogonal after, before = 1)",
                    m["resp_adapter_after"] / m["resp_orth_after"], "< 1",
                    m["resp_adapter_after"] / m["resp_orth_after"] < 1
                    and m["resp_adapter_after"] < m["resp_adapter_before"]),
        CheckResult("gains lower near the adapter than far from it", m["gain_near"] / m["gain_far"], "< 1",
                    m["gain_near"] < m["gain_far"]),
    ]


_BASE = {"kappa": 2.0, "w_exc": 1.0, "w_inh": 0.2, "width": 1.0, "radius": 0.8, "g_max": 1.2, "alpha": 0.3,
         "noise_var": 0.01, "adapter_weight": 0.7, "lr": 0.05, "flank_deg": [5.0, 45.0]}

STUDY = Study(
    name="gain",
    title="Adaptive coding efficiency in recurrent cortical circuits via gain control",
    authors="Duong, Bredenberg, Heeger & Simoncelli",
    year=2023,
    url="https://arxiv.org/abs/2305.19869",
    claim="single-neuron gain changes propagated through a recurrent network reproduce adaptation effects: "
          "reduced responses near the adapter, tuning repulsion, response decorrelation",
    scales={
        "smoke": {**_BASE, "neurons": 16, "stimuli": 32, "steps": 150, "sensitivity_widths": []},
        "small": {**_BASE, "neurons": 32, "stimuli": 64, "steps": 800, "sensitivity_widths": [0.5, 2.0]},
        "paper": {**_BASE, "neurons": 64, "stimuli": 180, "steps": 3000, "sensitivity_widths": [0.5, 2.0, 3.0]},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"effects": "reduced adapter responses, repulsion, decorrelation (qualitative; V1 data of "
                             "Benucci et al. 2013 not included)"},
)
