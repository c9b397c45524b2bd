"""Study: dis-inhibitory circuits control the sign of plasticity (Rossbroich & Zenke, NeurIPS 2023).

Part 1, one synapse: sweeping the input drive of one E-I pair, the weight change flips sign where the
postsynaptic rate crosses the top-down target; without top-down input and with the linear reading of
inhibition the curve is BCM-like (depression at low, potentiation at high rates).
Part 2, networks: MLPs trained with ``rules.Disinhibition`` vs backprop on digits and XOR-5D.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..circuits.disinhibition import EIMicrocircuit, single_synapse_curve
from ..data import load_dataset
from ..lab.trainer import Trainer
from ..models.mlp import MLP
from ..rules.backprop import Backprop
from ..rules.base import StepReport
from ..rules.disinhibition import Disinhibition
from .base import CheckResult, Study, StudyContext


def zero_crossings(x: np.ndarray, y: np.ndarray) -> list[tuple[float, int]]:
    """Linear-interpolated x where y changes sign, with the direction (+1: − to +, −1: + to −)."""
    out = []
    for i in range(len(y) - 1):
        if y[i] == 0 or np.sign(y[i]) == np.sign(y[i + 1]):
            continue
        x0 = x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i])
        out.append((float(x0), int(np.sign(y[i + 1] - y[i]))))
    return out


def synapse_part(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    drives = torch.linspace(0.0, cfg["max_drive"], cfg["n_drives"], dtype=torch.float64)
    exact = EIMicrocircuit(alpha=cfg["alpha"], inverse="exact", steps=cfg["circuit_steps"], dt=cfg["circuit_dt"])
    linear = EIMicrocircuit(alpha=cfg["alpha"], inverse="linear", theta=cfg["theta"], delta=cfg["delta"],
                            steps=cfg["circuit_steps"], dt=cfg["circuit_dt"])
    metrics: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for tgt in cfg["targets"]:
        c = single_synapse_curve(exact, drives, tgt)
        r, dw = c["rate_open"].numpy(), c["dw"].numpy()
        cross = zero_crossings(r[1:], dw[1:])                 # skip x = 0 where pre = 0
        down = [x for x, s in cross if s < 0]
        metrics[f"flip_rate_target_{tgt:g}"] = down[0] if down else None
        metrics[f"n_flips_target_{tgt:g}"] = len(cross)
        curves[f"target {tgt:g}"] = (r, dw)
    free = single_synapse_curve(exact, drives, None)
    metrics["max_abs_dw_no_topdown_exact"] = float(free["dw"].abs().max())
    bcm = single_synapse_curve(linear, drives, None)
    r, dw = bcm["rate_open"].numpy(), bcm["dw"].numpy()
    cross = zero_crossings(r[1:], dw[1:])
    metrics["bcm_crossings"] = [[x, s] for x, s in cross]
    metrics["bcm_threshold"] = cross[0][0] if cross and cross[0][1] > 0 else None
    metrics["bcm_min_dw"] = float(dw.min())
    metrics["bcm_max_dw"] = float(dw.max())
    curves["no top-down (linear inverse)"] = (r, dw)
    return metrics, curves


class ReadoutOnly(Backprop):
    """Control: only the readout learns (hidden layers stay random), to show the hidden layers' credit assignment."""

    name = "readout-only"

    def step(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        report = super().step(model, x, y)
        for layer in list(model.layers)[:-1]:
            for p in layer.parameters():
                if p.grad is not None:
                    p.grad.zero_()
        return report


def train(dataset: str, rule_name: str, cfg: dict[str, Any], seed: int, device: torch.device) -> list[float]:
    data = load_dataset(dataset) if dataset != "xor5d" else load_dataset("xor5d", seed=seed)
    if cfg["n_train"]:
        data = data.subset(cfg["n_train"], None)
    torch.manual_seed(seed)
    model = MLP([data.n_features, *cfg["hidden"], data.n_outputs])
    rules = {"bp": Backprop, "readout": ReadoutOnly, "disinhibition": lambda: Disinhibition(seed=seed, gain=cfg["gain"])}
    rule = rules[rule_name]()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    hist = Trainer(model, rule, opt, data, epochs=cfg["epochs"], batch_size=cfg["batch_size"], device=device,
                   seed=seed).fit()
    return [h["test_accuracy"] for h in hist]


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    torch.set_num_threads(1)
    metrics, curves = synapse_part(cfg)
    ctx.log(f"sign flips at rates {[metrics[f'flip_rate_target_{t:g}'] for t in cfg['targets']]} "
            f"(targets {cfg['targets']}); BCM threshold {metrics['bcm_threshold']}")
    acc_curves: dict[str, list[float]] = {}
    for ds in cfg["datasets"]:
        for rule in ("bp", "disinhibition", "readout"):
            runs = [train(ds, rule, cfg, ctx.seed + s, ctx.device) for s in range(cfg["seeds"])]
            mean = np.mean(np.array(runs), 0)
            acc_curves[f"{ds} {rule}"] = mean.tolist()
            metrics[f"acc_{ds}_{rule}"] = float(mean[-1])
            metrics[f"acc_{ds}_{rule}_seeds"] = [r[-1] for r in runs]
            ctx.log(f"{ds} {rule}: test accuracy {mean[-1]:.4f} (seeds {[round(r[-1], 4) for r in runs]})")
    _plot(ctx, cfg, curves, acc_curves)
    return metrics


def _plot(ctx: StudyContext, cfg: dict[str, Any], curves: dict[str, Any], acc: dict[str, list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for label, (r, dw) in curves.items():
        axes[0].plot(r, dw / max(np.abs(dw).max(), 1e-12), label=label)
    for t in cfg["targets"]:
        axes[0].axvline(t, ls=":", c="gray", lw=0.8)
    axes[0].axhline(0, c="k", lw=0.6)
    axes[0].set_xlabel("postsynaptic rate (no top-down)")
    axes[0].set_ylabel("Δw (normalised)")
    axes[0].legend(fontsize=7)
    for label, a in acc.items():
        axes[1].plot(range(1, len(a) + 1), a, label=label)
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("test accuracy")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("disinhibition.png"), dpi=110)
    plt.close(fig)


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[CheckResult]:
    out = []
    for t in cfg["targets"]:
        r = metrics[f"flip_rate_target_{t:g}"]
        ok = r is not None and abs(r - t) <= cfg["flip_tol"] * t and metrics[f"n_flips_target_{t:g}"] == 1
        out.append(CheckResult(f"Δw flips sign (LTP→LTD) at the target rate {t:g}", measured=r if r is not None else "none",
                               paper=float(t), passed=ok,
                               detail=f"tolerance {cfg['flip_tol']:.0%}; {metrics[f'n_flips_target_{t:g}']} sign change(s)"))
    th = metrics["bcm_threshold"]
    ok = th is not None and metrics["bcm_min_dw"] < 0 < metrics["bcm_max_dw"]
    out.append(CheckResult("BCM-like without top-down input: LTD below a rate threshold, LTP above",
                           measured=th if th is not None else "no − to + crossing", paper="threshold exists",
                           passed=ok, detail=f"sign changes at {metrics['bcm_crossings']}"))
    for ds in cfg["datasets"]:
        bp, dis = metrics[f"acc_{ds}_bp"], metrics[f"acc_{ds}_disinhibition"]
        out.append(CheckResult(f"{ds}: dis-inhibitory rule within {cfg['acc_tol']:g} points of BP",
                               measured=100 * (bp - dis), paper=f"<= {cfg['acc_tol']:g}",
                               passed=100 * (bp - dis) <= cfg["acc_tol"],
                               detail=f"BP {bp:.4f} vs disinhibition {dis:.4f} ({cfg['seeds']} seeds, {cfg['epochs']} epochs)"))
        ro = metrics[f"acc_{ds}_readout"]
        out.append(CheckResult(f"{ds}: hidden layers learn (dis-inhibitory rule beats a readout-only control)",
                               measured=100 * (dis - ro), paper="> 0 points", passed=dis > ro,
                               detail=f"disinhibition {dis:.4f} vs readout-only {ro:.4f}"))
    return out


_SYN = {"targets": [1.0, 2.0], "alpha": 5.0, "theta": 1.5, "delta": 1.5, "max_drive": 8.0, "n_drives": 161,
        "circuit_steps": 600, "circuit_dt": 0.02, "flip_tol": 0.05, "acc_tol": 3.0, "gain": 1.0, "momentum": 0.9,
        "batch_size": 32}

STUDY = Study(
    name="disinhibition",
    title="Dis-inhibitory neuronal circuits can control the sign of synaptic plasticity",
    authors="Rossbroich & Zenke",
    year=2023,
    url="https://arxiv.org/abs/2310.19614",
    claim="Top-down dis-inhibition sets the sign of a Hebbian rule (flip at the target rate, BCM-like without "
          "top-down input), and this does credit assignment in hidden layers close to backprop.",
    scales={
        "smoke": {**_SYN, "n_drives": 41, "circuit_steps": 300, "circuit_dt": 0.04, "datasets": ["xor5d"],
                  "hidden": [64], "epochs": 3, "lr": 0.05, "seeds": 1, "n_train": 400},
        "small": {**_SYN, "datasets": ["digits", "xor5d"], "hidden": [256], "epochs": 20, "lr": 0.02, "seeds": 2,
                  "n_train": 0},
        "paper": {**_SYN, "datasets": ["mnist", "fashion-mnist"], "hidden": [256, 256, 256], "epochs": 50,
                  "lr": 0.01, "seeds": 3, "n_train": 0},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"acc_gap_to_bp_points": "about 1-2 on MNIST/FMNIST", "flip": "at the target rate"},
)
