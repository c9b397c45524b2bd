"""Study ``hlop``: Hebbian learning based orthogonal projection for continual learning (Xiao et al., ICLR 2024).

Two parts. Spiking (the paper's setting, HLOP-SNN ``spiking_train_pmnist_bptt.py``): a spiking MLP (constant
current input for T steps, LIF with tau 2 and soft reset, time-averaged linear readout) trained by surrogate
BPTT on permuted MNIST, plain fine-tuning against HLOP whose lateral Oja neurons learn online during each
task (5 updates per batch, momentum 0.9, rates 0.001 / 0.01 per layer) and are merged into the subspace
after it. Rate (kept from the first version): MLPs trained with BP / FA / sign symmetry / DFA, fine-tuning
against exact-SVD projection and offline-fitted HLOP. ACC and BWT are compared with the paper's Table 1.

Deviations from the paper and its code (also in ``STUDY.deviations``):
* small scale: 4 permuted-MNIST tasks of 3000 training images, 100-wide hidden layers, 3 epochs, batch 16,
  hidden init x3 (narrow layers start silent with the reference init), component
  counts scaled down; only the paper scale is the reference protocol (10 tasks, 60k images, 800-800);
* the reference's training variants other than BPTT (DSR, OTTT online training) are not implemented;
* the spiking part trains with BP only at small scale (FA / sign symmetry run in the rate part);
* new lateral neurons start orthonormal and orthogonal to the merged ones (the reference: orthogonal
  among themselves only);
* no hyper-parameter search: the reference's values are used as given; the BWT tolerance is 1 point, since
  the paper's run-to-run spread could not be read here (see ``paper_values``);
* the lateral neurons are rate (analogue) units; the reference's optional spiking lateral neurons
  (``-hlop_spiking``, a quantised y) are not modelled.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from ..continual import (
    HLOP,
    FineTune,
    OnlineHLOP,
    SpikingHLOPMLP,
    SVDProjection,
    make_task_sequence,
    run_continual,
    sgd,
)
from ..continual.projection import ContinualMethod
from ..errors import check_choice
from ..models import MLP
from ..rules import make_rule
from ..spiking.bptt import SurrogateBPTT
from .base import Study, StudyContext
from .checks import Check, paper

METHODS = ("finetune", "svd", "hlop")
SPIKING_METHODS = ("finetune", "hlop-online")


def _schedule(cfg: dict[str, Any], key: str = "components_schedule") -> list:
    """Components per task: ``components_first`` after task 0, then ``components`` (or an explicit list)."""
    if cfg.get(key):
        return list(cfg[key])
    return [cfg["components_first"], cfg["components"]]


def _method(name: str, cfg: dict[str, Any], seed: int) -> ContinualMethod:
    check_choice("method", name, (*METHODS, *SPIKING_METHODS))
    if name == "finetune":
        return FineTune()
    if name == "hlop-online":
        sched = _schedule({**cfg, "components_first": cfg["spiking_components_first"],
                           "components": cfg["spiking_components"]}, "spiking_components_schedule")
        return OnlineHLOP(components_per_task=sched, lr=cfg["hlop_lr"], iterations=cfg["hlop_iterations"], seed=seed)
    sched = _schedule(cfg)
    if name == "svd":
        return SVDProjection(components_per_task=sched, max_rows=cfg["svd_max_rows"], seed=seed)
    return HLOP(components_per_task=sched, lr=cfg["hebb_lr"], epochs=cfg["hebb_epochs"],
                max_rows=cfg["hebb_max_rows"], seed=seed)


def _entry(res: Any, method: ContinualMethod) -> dict[str, Any]:
    entry = {"acc": res.acc, "bwt": res.bwt, "fwt": res.fwt, "forgetting": res.forgetting, "R": res.R,
             "seconds": res.seconds}
    if res.method_info:
        last = res.method_info[-1]
        entry["captured_last_task"] = {k.split(".", 1)[1]: v for k, v in last.items() if k.startswith("captured.")}
        entry["components"] = {k.split(".", 1)[1]: v for k, v in last.items() if k.startswith("components.")}
    if isinstance(method, HLOP | OnlineHLOP):
        entry["orthonormality_error"] = method.orthonormality_error()
    return entry


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    seq = make_task_sequence(cfg["sequence"], cfg["n_tasks"], seed=ctx.seed, n_train=cfg["n_train"],
                             n_test=cfg["n_test"])
    ctx.log(f"hlop: {cfg['sequence']} x{len(seq)}, {seq[0].x_train.shape[0]} train / {seq[0].x_test.shape[0]} "
            f"test per task")
    runs: dict[str, Any] = {}
    x0 = seq[0].x_train
    mean, std = float(x0.mean()), float(x0.std())
    for rule_name in cfg["spiking_rules"]:
        for mname in cfg["spiking_methods"]:
            torch.manual_seed(ctx.seed)
            model = SpikingHLOPMLP([seq.n_features, *cfg["spiking_hidden"], seq.n_classes], n_steps=cfg["n_steps"],
                                   input_mean=mean, input_std=std, init_gain=cfg["spiking_init_gain"])
            method = _method(mname, cfg, ctx.seed)
            rule = SurrogateBPTT(seed=ctx.seed) if rule_name == "bp" else make_rule(rule_name, seed=ctx.seed)
            res = run_continual(model, rule, seq, method, sgd(cfg["spiking_lr"]), epochs=cfg["spiking_epochs"],
                                batch_size=cfg["spiking_batch_size"], device=ctx.device, seed=ctx.seed)
            runs[f"spiking-{rule_name}/{mname}"] = _entry(res, method)
            ctx.log(f"  spiking {rule_name:5s} {mname:11s} ACC {100 * res.acc:5.1f}  BWT {100 * res.bwt:6.2f}  "
                    f"({res.seconds:.1f}s)")
    for rule_name in cfg["rules"]:
        for mname in cfg["methods"]:
            torch.manual_seed(ctx.seed)
            model = MLP([seq.n_features, *cfg["hidden"], seq.n_classes], bias=cfg["bias"])
            method = _method(mname, cfg, ctx.seed)
            res = run_continual(model, make_rule(rule_name, seed=ctx.seed), seq, method,
                                sgd(cfg["lr"], cfg["momentum"]), epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                                device=ctx.device, seed=ctx.seed)
            runs[f"rate-{rule_name}/{mname}"] = _entry(res, method)
            ctx.log(f"  rate    {rule_name:5s} {mname:11s} ACC {100 * res.acc:5.1f}  BWT {100 * res.bwt:6.2f}  "
                    f"({res.seconds:.1f}s)")
    _plot(runs, ctx)
    return {"runs": runs, "n_tasks": len(seq), "n_train": int(seq[0].x_train.shape[0])}


def _plot(runs: dict[str, Any], ctx: StudyContext) -> None:
    keys = list(runs)
    if not keys:
        return
    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    for ax, key in zip(axes.flat, keys, strict=False):
        e = runs[key]
        mat = 100 * np.asarray(e["R"])
        ax.imshow(mat, vmin=0, vmax=100, cmap="viridis")
        if mat.shape[0] <= 10:
            for a in range(mat.shape[0]):
                for b in range(mat.shape[1]):
                    ax.text(b, a, f"{mat[a, b]:.0f}", ha="center", va="center", fontsize=6,
                            color="w" if mat[a, b] < 60 else "k")
        ax.set_title(f"{key}\nACC {100 * e['acc']:.1f}  BWT {100 * e['bwt']:.1f}", fontsize=8)
        ax.set_xlabel("task j", fontsize=7)
        ax.set_ylabel("after task i", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("R_matrices.png"), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 0.6 * len(keys) + 3), 3.2))
    x = np.arange(len(keys))
    for k, (key, title) in enumerate((("acc", "ACC (%)"), ("bwt", "BWT (points)"))):
        axes[k].bar(x, [100 * runs[n][key] for n in keys], color=[f"C{i % 10}" for i in range(len(keys))])
        axes[k].set_xticks(x, keys, rotation=60, ha="right", fontsize=6)
        axes[k].set_title(title)
        axes[k].axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("acc_bwt.png"), dpi=110)
    plt.close(fig)


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    runs, out = metrics["runs"], []
    floor = cfg["learned_floor"]
    for kind in ("spiking", "rate"):
        ft = runs.get(f"{kind}-bp/finetune")
        hl = runs.get(f"{kind}-bp/{'hlop-online' if kind == 'spiking' else 'hlop'}")
        if ft is None or hl is None:
            continue
        learned = float(np.mean(np.diag(np.asarray(ft["R"]))))
        guard = {"reference": learned, "floor": floor, "reference_name": f"{kind} fine-tuning accuracy on the task "
                 "just learned"}
        out.append(Check(f"{kind} BP: fine-tuning forgets (BWT, points)", 100 * ft["bwt"], "<=",
                         -cfg["finetune_forgetting"], detail="baseline without protection", **guard))
        out.append(Check(f"{kind} BP: HLOP BWT (points) no worse than the paper's minus its tolerance",
                         100 * hl["bwt"], ">=", paper("pmnist_bwt"), tol=cfg["bwt_tolerance"],
                         detail=f"{metrics['n_tasks']} tasks; {kind} network", **guard))
        out.append(Check(f"{kind} BP: HLOP ACC (%) against the paper's", 100 * hl["acc"], ">=", paper("pmnist_acc"),
                         tol=cfg["acc_tolerance"], detail=f"{metrics['n_tasks']} tasks of {metrics['n_train']} "
                         "images; the tolerance states how far below the paper's full-data number this scale may be",
                         **guard))
    for r in cfg["check_rules"]:
        ft, svd, hl = runs.get(f"rate-{r}/finetune"), runs.get(f"rate-{r}/svd"), runs.get(f"rate-{r}/hlop")
        if hl is None or svd is None or ft is None:
            continue
        learned = float(np.mean(np.diag(np.asarray(svd["R"]))))
        out.append(Check(f"rate {r}: HLOP ACC minus exact-SVD projection ACC (points)", 100 * (hl["acc"] - svd["acc"]),
                         ">=", -cfg["acc_gap_svd"], reference=learned, floor=floor,
                         reference_name="SVD-projection accuracy on the task just learned",
                         detail=f"HLOP {100 * hl['acc']:.1f} vs SVD {100 * svd['acc']:.1f}"))
    return out


_COMMON = {"momentum": 0.0, "bias": True, "svd_max_rows": 20000, "hebb_lr": 0.1, "hebb_epochs": 10,
           "hebb_max_rows": 5000, "components_schedule": None, "bwt_tolerance": 1.0, "acc_tolerance": 1.0,
           "acc_gap_svd": 5.0, "finetune_forgetting": 5.0, "learned_floor": 0.5, "methods": list(METHODS),
           "n_steps": 6, "spiking_hidden": [800, 800], "spiking_lr": 0.1, "spiking_batch_size": 64,
           "spiking_epochs": 1, "spiking_methods": list(SPIKING_METHODS), "spiking_rules": ["bp"],
           "hlop_lr": [0.001, 0.01, 0.01], "hlop_iterations": 5, "spiking_components_schedule": None,
           "spiking_init_gain": 1.0}

_PAPER: dict[str, Any] = {**_COMMON, "sequence": "permuted-mnist", "n_tasks": 10, "n_train": None, "n_test": None,
    "hidden": [800, 800], "bias": False, "epochs": 1, "lr": 0.1, "batch_size": 64,
    "rules": ["bp", "fa", "sign", "dfa"], "components_first": [80, 200, 100],
    "components": [70, 70, 70],
    "components_schedule": [[80, 200, 100], [70, 70, 70], [70, 70, 70], [50, 50, 50], [50, 50, 50],
                            [50, 50, 50], [30, 30, 30], [30, 30, 30], [30, 30, 30], [10, 10, 10]],
    "spiking_components_first": [80, 200, 100], "spiking_components": [70, 70, 70],
    "spiking_components_schedule": [[80, 200, 100], [70, 70, 70], [70, 70, 70], [50, 50, 50],
                                    [50, 50, 50], [50, 50, 50], [30, 30, 30], [30, 30, 30],
                                    [30, 30, 30], [10, 10, 10]],
    "spiking_rules": ["bp", "fa", "sign"],
    "svd_max_rows": 20000, "hebb_max_rows": 20000, "check_rules": ["bp", "fa", "sign"]}

# the ``cpu`` scale: the paper's spiking PMNIST row itself (10 full tasks, 784-800-800-10, its lateral component
# schedule and tolerances), spiking BP only with the fine-tuning baseline and online HLOP; no rate-network rules
CPU10: dict[str, Any] = {
    "rules": [], "methods": [], "check_rules": [], "spiking_rules": ["bp"],
    "spiking_methods": ["finetune", "hlop-online"],
}

STUDY = Study(
    name="hlop",
    title="Hebbian Learning based Orthogonal Projection for Continual Learning of Spiking Neural Networks",
    authors="Xiao, Meng, Zhang, He & Lin",
    year=2024,
    url="https://openreview.net/forum?id=MeB86edZ1P",
    claim="Lateral Hebbian/anti-Hebbian neurons learn the principal subspace of each layer's past activity; "
          "projecting updates orthogonal to it removes forgetting, for BP and for FA / sign-symmetry rules.",
    scales={
        "smoke": {**_COMMON, "sequence": "permuted-digits", "n_tasks": 3, "n_train": 300, "n_test": 100,
                  "hidden": [32], "epochs": 2, "lr": 0.1, "batch_size": 32, "rules": ["bp"],
                  "components_first": [8, 8], "components": [4, 4], "hebb_epochs": 1, "hebb_max_rows": 300,
                  "check_rules": ["bp"], "spiking_hidden": [32, 32], "spiking_epochs": 2, "n_steps": 4,
                  "spiking_init_gain": 3.0, "spiking_batch_size": 16,
                  "spiking_components_first": [16, 12, 10], "spiking_components": [8, 6, 5],
                  "acc_tolerance": 95.0, "bwt_tolerance": 30.0, "finetune_forgetting": 0.0, "learned_floor": 0.2},
        # 4 permuted-MNIST tasks of 3000 images, 3 epochs (chosen on seed 0: at 3 tasks x 2000 x 2 epochs fine-tuning
        # forgot only 1-4 points, too little to show protection); spiking 784-100-100-10, T 6, the reference's
        # lr/batch/lateral rates
        "small": {**_COMMON, "sequence": "permuted-mnist", "n_tasks": 4, "n_train": 3000, "n_test": 1000,
                  "hidden": [100, 100], "epochs": 3, "lr": 0.05, "batch_size": 32, "rules": ["bp"],
                  "hebb_epochs": 3, "hebb_max_rows": 2000, "spiking_init_gain": 3.0, "spiking_batch_size": 16,
                  "components_first": [40, 40, 30], "components": [20, 20, 15], "check_rules": ["bp"],
                  "spiking_hidden": [100, 100], "spiking_epochs": 3, "spiking_components_first": [40, 40, 30],
                  "spiking_components": [20, 20, 15], "acc_tolerance": 15.0},
        # PMNIST as in the reference code (spiking_train_pmnist_bptt.py): 10 tasks, 784-800-800-10 without bias,
        # T 6, SGD lr 0.1, batch 64, 1 epoch; lateral components [80, 200, 100] then +70 per layer, 20 fewer
        # every 3 tasks; lateral lr 0.001 (pixels) / 0.01 (spikes), 5 Oja updates per batch, momentum 0.9.
        "cpu": {**_PAPER, **CPU10},
        "paper": _PAPER,
    },
    run_fn=run,
    checks_fn=checks,
    # Table 1 of the paper (PMNIST, spiking MLP 800-800, HLOP), as recalled: the paper text could not be read
    # from this machine, so these two numbers and the absence of a stated spread are unverified here.
    paper_values={"pmnist_acc": 95.15, "pmnist_bwt": -1.30,
                  "note": "PMNIST spiking MLP 784-800-800-10, 10 tasks, HLOP (Table 1; unverified here)"},
    deviations=[
        "the paper's PMNIST ACC 95.15 and BWT -1.30 and the absence of a stated spread could not be read from the "
        "paper on this machine (only its abstract was reachable): both numbers are unverified and the 1-point "
        "BWT tolerance may be looser than the paper's spread",
        "small scale: 4 permuted-MNIST tasks of 3000 images, 100-wide layers, 3 epochs, batch 16 (more steps), "
        "fewer lateral neurons, hidden init x3 (narrow layers start silent with the reference init); cpu: the "
        "paper's spiking protocol (10 full tasks, 800-800, 1 epoch, batch 64, its lateral schedule) with spiking BP "
        "only; the paper scale adds spiking FA / sign symmetry and the rate part",
        "the reference's other training methods (DSR, OTTT online training) are not implemented; BPTT only",
        "spiking FA / sign symmetry only at paper scale; small runs them in the rate part",
        "new lateral neurons start orthonormal and orthogonal to the merged ones (reference: among themselves)",
        "lateral neurons are analogue (the reference's optional quantised spiking lateral neurons not modelled)",
        "the paper's ACC / BWT are recalled, not read here, and its run-to-run spread is unknown: BWT tolerance "
        "set to 1 point",
        "ACC tolerance at small (15 points) allows for the reduced data and width; cpu and paper use 1 point",
        "the rate part (offline HLOP fit after each task, exact-SVD reference) is our addition, not the paper's",
    ],
    tuned_seeds=(0,),
)
