"""Study: curl descent — rule-flipped neurons keep learning stable below a critical fraction, not above.

Student-teacher regression (input 20, hidden 199, output 1, 250 samples), full-batch flow of backprop
wrapped in ``rules.Curl``: a fraction of hidden neurons flip the sign of their plasticity. We sweep the
fraction (5 seeds) for a linear and a tanh network and, for the linear one, the expansion ratio
hidden/input at fixed input + hidden = 219 (as in the paper's phase diagram). A last part starts the tanh
student near the origin saddle (small weights) and compares how far gradient descent and readout-side flips
get in the same number of steps (the paper: curl can speed learning by escaping saddles).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..data.synthetic import student_teacher
from ..models.mlp import MLP
from ..rules.curl import Curl
from .base import CheckResult, Study, StudyContext


def train_flipped(d_in: int, d_hidden: int, nonlinear: bool, fraction: float, side: str, seed: int, steps: int,
                  lr: float, n_train: int, device: torch.device, init_scale: float = 1.0,
                  hit_tol: float = 1e-2) -> dict[str, float]:
    """Full-batch training of one student; returns initial, final and minimum loss (inf if it diverged) and
    ``hit``, the first step whose loss is below ``hit_tol`` x initial (inf if never). ``init_scale`` shrinks the
    student's initial weights (small values start it near the saddle at the origin)."""
    data = student_teacher(n_train=n_train, n_test=10, d_in=d_in, d_hidden=d_hidden, nonlinear=nonlinear,
                           seed=seed).to(device)
    torch.manual_seed(10_000 + seed)
    model = MLP([d_in, d_hidden, 1], activation="tanh" if nonlinear else "identity", bias=False).to(device)
    if init_scale != 1.0:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(init_scale)
    rule = Curl("bp", fraction=fraction, side=side, seed=seed)
    rule.prepare(model)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    l0 = lmin = None
    hit = float("inf")
    loss = float("nan")
    for t in range(steps):
        loss = float(rule.step(model, data.x_train, data.y_train).loss)
        l0 = loss if l0 is None else l0
        if not math.isfinite(loss) or loss > 1e6 * l0:
            return {"initial": l0, "final": float("inf"), "min": lmin if lmin is not None else l0, "hit": hit}
        lmin = loss if lmin is None else min(lmin, loss)
        if loss < hit_tol * l0 and not math.isfinite(hit):
            hit = float(t)
        opt.step()
    return {"initial": l0, "final": loss, "min": lmin, "hit": hit}


def sweep(d_in: int, d_hidden: int, nonlinear: bool, fractions: list[float], side: str, seeds: int, steps: int,
          lr: float, n_train: int, device: torch.device) -> np.ndarray:
    """Final/initial loss ratios, shape (fractions, seeds); inf marks divergence."""
    out = np.zeros((len(fractions), seeds))
    for i, f in enumerate(fractions):
        for s in range(seeds):
            r = train_flipped(d_in, d_hidden, nonlinear, f, side, s, steps, lr, n_train, device)
            out[i, s] = r["final"] / r["initial"]
    return out


def saddle_part(cfg: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Tanh student started near the origin saddle (weights x ``saddle_init``); readout-side flips.

    Returns, per flipped fraction, each seed's first step below ``saddle_tol`` x initial loss and final ratio.
    """
    out: dict[str, Any] = {"fractions": cfg["saddle_fractions"], "steps_to_tol": [], "final_ratio": []}
    for f in cfg["saddle_fractions"]:
        rs = [train_flipped(cfg["d_in"], cfg["d_hidden"], True, f, cfg["saddle_side"], s, cfg["saddle_steps"],
                            cfg["saddle_lr"], cfg["n_train"], device, cfg["saddle_init"], cfg["saddle_tol"])
              for s in range(cfg["seeds"])]
        out["steps_to_tol"].append([r["hit"] if math.isfinite(r["hit"]) else None for r in rs])
        out["final_ratio"].append([r["final"] / r["initial"] if math.isfinite(r["final"]) else None for r in rs])
    return out


def critical_fraction(fractions: list[float], ratios: np.ndarray, tol: float) -> float:
    """Midpoint between the last fraction where every seed reaches ``tol`` and the first where the median fails."""
    ok = [bool(np.all(r < tol)) for r in ratios]
    fail = [bool(np.median(r) >= tol) for r in ratios]
    first_fail = next((i for i, v in enumerate(fail) if v), None)
    if first_fail is None:
        return float(fractions[-1])
    last_ok = max((i for i in range(first_fail) if ok[i]), default=None)
    return 0.0 if last_ok is None else 0.5 * (fractions[last_ok] + fractions[first_fail])


def _plot(ctx: StudyContext, curves: dict[str, tuple[list[float], np.ndarray]], ratios_x: list[float],
          crit: list[float], tol: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for label, (fr, r) in curves.items():
        shown = np.where(np.isfinite(r), np.clip(r, 1e-16, 1e6), 1e6)
        axes[0].semilogy(fr, np.median(shown, 1), "o-", label=label)
        for s in range(r.shape[1]):
            axes[0].scatter(fr, shown[:, s], s=6, alpha=0.4)
    axes[0].axhline(tol, ls="--", c="k", lw=0.8)
    axes[0].set_xlabel("fraction of rule-flipped hidden neurons")
    axes[0].set_ylabel("final / initial loss (1e6 = diverged)")
    axes[0].legend(fontsize=8)
    axes[1].plot(ratios_x, crit, "o-")
    axes[1].set_xlabel("expansion ratio hidden / input")
    axes[1].set_ylabel("critical fraction (linear)")
    fig.tight_layout()
    fig.savefig(ctx.figure_path("phase.png"), dpi=110)
    plt.close(fig)


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    torch.set_num_threads(1)
    tol = cfg["tol"]
    metrics: dict[str, Any] = {}
    curves = {}
    for label, nonlinear in (("linear", False), ("nonlinear", True)):
        fr = cfg[f"fractions_{label}"]
        r = sweep(cfg["d_in"], cfg["d_hidden"], nonlinear, fr, cfg[f"side_{label}"], cfg["seeds"],
                  cfg[f"steps_{label}"], cfg[f"lr_{label}"], cfg["n_train"], ctx.device)
        curves[label] = (fr, r)
        fc = critical_fraction(fr, r, tol)
        metrics[label] = {"fractions": fr, "loss_ratio": [[x if math.isfinite(x) else None for x in row] for row in r],
                          "critical_fraction": fc, "side": cfg[f"side_{label}"]}
        for key in ("low", "high"):
            f = cfg[f"{key}_{label}"]
            i = int(np.argmin(np.abs(np.array(fr) - f)))
            vals = r[i]
            metrics[f"{label}_{key}_fraction"] = fr[i]
            metrics[f"{label}_{key}_max_ratio"] = float(np.max(vals)) if np.all(np.isfinite(vals)) else None
            metrics[f"{label}_{key}_min_ratio"] = float(np.min(vals)) if np.any(np.isfinite(vals)) else None
            metrics[f"{label}_{key}_n_diverged"] = int(np.sum(~np.isfinite(vals)))
        ctx.log(f"[{label}] side={cfg[f'side_{label}']} critical fraction ≈ {fc:.3f}; median ratios "
                + ", ".join(f"{f:g}:{np.median(v):.1e}" for f, v in zip(fr, r, strict=True)))
    ratios_x, crit = [], []
    for d_in in cfg["expansion_inputs"]:
        d_h = cfg["expansion_total"] - d_in
        fr = cfg["fractions_expansion"]
        r = sweep(d_in, d_h, False, fr, cfg["side_linear"], cfg["expansion_seeds"], cfg["steps_linear"],
                  cfg["lr_linear"], cfg["n_train"], ctx.device)
        ratios_x.append(d_h / d_in)
        crit.append(critical_fraction(fr, r, tol))
        ctx.log(f"[expansion] {d_in}->{d_h} (ratio {d_h / d_in:.2f}): critical fraction ≈ {crit[-1]:.3f}")
    metrics["expansion_ratio"] = ratios_x
    metrics["critical_fraction_vs_expansion"] = crit
    metrics["spearman_crit_vs_expansion"] = _spearman(ratios_x, crit)
    sad = saddle_part(cfg, ctx.device)
    metrics["saddle"] = sad
    fin = [np.median([np.inf if v is None else v for v in row]) for row in sad["final_ratio"]]
    hits = [np.median([np.inf if v is None else v for v in row]) for row in sad["steps_to_tol"]]
    metrics["saddle_median_final_ratio"] = [float(v) if np.isfinite(v) else None for v in fin]
    metrics["saddle_median_steps"] = [float(v) if np.isfinite(v) else None for v in hits]
    fin_s = ", ".join(f"{f:g}:{v:.1e}" for f, v in zip(sad["fractions"], fin, strict=True))
    hit_s = ", ".join(f"{f:g}:{v:g}" for f, v in zip(sad["fractions"], hits, strict=True))
    ctx.log(f"[saddle] tanh, init x{cfg['saddle_init']:g}, side={cfg['saddle_side']}: median final ratio {fin_s}; "
            f"median steps to {cfg['saddle_tol']:g} x initial {hit_s}")
    _plot(ctx, curves, ratios_x, crit, tol)
    return metrics


def _spearman(a: list[float], b: list[float]) -> float:
    if len(a) < 2 or np.std(b) == 0:
        return 0.0
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[CheckResult]:
    tol = cfg["tol"]
    out = []
    for label in ("linear", "nonlinear"):
        lo, hi = metrics[f"{label}_low_max_ratio"], metrics[f"{label}_high_min_ratio"]
        flo, fhi = metrics[f"{label}_low_fraction"], metrics[f"{label}_high_fraction"]
        fc = metrics[label]["critical_fraction"]
        out.append(CheckResult(
            f"[{label}] {flo:g} flipped (below critical): every seed's loss < {tol:g} x initial",
            measured=lo if lo is not None else "diverged", paper=f"< {tol:g}",
            passed=lo is not None and lo < tol and flo < fc,
            detail=f"max over {cfg['seeds']} seeds; measured critical fraction {fc:.3f}"))
        n_div = metrics[f"{label}_high_n_diverged"]
        out.append(CheckResult(
            f"[{label}] {fhi:g} flipped (above critical): every seed unstable or fails (loss > 0.1 x initial)",
            measured=hi if hi is not None else "all diverged", paper="> 0.1 or diverges",
            passed=hi is None or hi > 0.1, detail=f"{n_div}/{cfg['seeds']} seeds diverged"))
    rho = metrics["spearman_crit_vs_expansion"]
    out.append(CheckResult("critical fraction grows with the expansion ratio (Spearman rho)", measured=rho,
                           paper="increasing", passed=rho > 0.5,
                           detail=", ".join(f"{r:.2f}:{c:.2f}" for r, c in zip(metrics["expansion_ratio"],
                                                                             metrics["critical_fraction_vs_expansion"],
                                                                             strict=True))))
    fr, fin = metrics["saddle"]["fractions"], metrics["saddle_median_final_ratio"]
    base = fin[fr.index(0.0)] if 0.0 in fr else None
    flipped = [(f, v) for f, v in zip(fr, fin, strict=True) if f > 0 and v is not None]
    best = min(flipped, key=lambda t: t[1]) if flipped else None
    out.append(CheckResult(
        "curl speeds escape from the saddle: a flipped fraction ends lower than gradient descent (median final loss)",
        measured=best[1] if best else "all diverged", paper=f"< GD ({base:.3g})" if base is not None else "< GD",
        passed=best is not None and base is not None and best[1] < base,
        detail=f"tanh, init x{cfg['saddle_init']:g}, {cfg['saddle_steps']} steps, side={cfg['saddle_side']}; "
               f"best fraction {best[0] if best else None}; median steps to {cfg['saddle_tol']:g} x initial "
               + ", ".join(f"{f:g}:{h}" for f, h in zip(fr, metrics["saddle_median_steps"], strict=True))))
    return out


_COMMON = {"d_in": 20, "d_hidden": 199, "n_train": 250, "tol": 1e-3, "side_linear": "both",
           "side_nonlinear": "incoming", "lr_linear": 0.1, "lr_nonlinear": 0.5, "low_linear": 0.1,
           "high_linear": 0.5, "low_nonlinear": 0.05, "high_nonlinear": 0.5, "expansion_total": 219,
           "saddle_side": "outgoing", "saddle_init": 0.01, "saddle_lr": 1.0, "saddle_tol": 1e-2,
           "saddle_fractions": [0.0, 0.5, 0.8]}

STUDY = Study(
    name="curl",
    title="Curl descent: non-gradient learning dynamics with sign-diverse plasticity",
    authors="Ninou, Kadmon & Cayco-Gajic",
    year=2025,
    url="https://arxiv.org/abs/2510.02765",
    claim="Rule-flipped neurons add curl to the learning flow: below a critical fraction the student still "
          "learns the teacher, beyond it learning is destabilised; the critical fraction grows with expansion.",
    scales={
        "smoke": {**_COMMON, "seeds": 2, "steps_linear": 300, "steps_nonlinear": 40,
                  "fractions_linear": [0.1, 0.5], "fractions_nonlinear": [0.05, 0.5],
                  "expansion_inputs": [20, 60], "fractions_expansion": [0.2, 0.5], "expansion_seeds": 1,
                  "saddle_steps": 60},
        "small": {**_COMMON, "seeds": 5, "steps_linear": 2000, "steps_nonlinear": 5000,
                  "fractions_linear": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5],
                  "fractions_nonlinear": [0.0, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5],
                  "expansion_inputs": [20, 40, 60, 80, 100],
                  "fractions_expansion": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5],
                  "expansion_seeds": 3, "saddle_steps": 6000},
        "paper": {**_COMMON, "seeds": 10, "steps_linear": 100_000, "steps_nonlinear": 100_000,
                  "fractions_linear": [i / 40 for i in range(21)], "fractions_nonlinear": [i / 40 for i in range(21)],
                  "expansion_inputs": [20, 30, 40, 50, 60, 70, 80, 90],
                  "fractions_expansion": [i / 40 for i in range(21)], "expansion_seeds": 10,
                  "saddle_steps": 100_000},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"loss_below_critical": "< 1e-3 x initial", "above_critical": "unstable"},
)
