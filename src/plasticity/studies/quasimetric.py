"""On the learning and learnability of quasimetrics (Wang & Isola, ICLR 2022).

Task: shortest-path distances of a random directed graph (a quasimetric). Models see node features of both
ends of an ordered pair and are trained (MSE) on a fraction of the pairs; we measure the error on held-out
pairs and how often each model's predictions violate the triangle inequality on random node triples.
Models: PQE-LH and PQE-GG heads on a shared MLP encoder (``models.quasimetric``), and the unconstrained
baseline MLP on the concatenated pair. Claim: unconstrained MLPs do not learn quasimetrics consistently (they
generalise worse and break the triangle inequality), PQEs do and cannot break it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.graphs import PairTask, graph_pair_task
from ..models.quasimetric import MLPDistance, QuasimetricNet
from .base import Study, StudyContext
from .checks import Check, paper

MODELS = ("pqe_lh", "pqe_gg", "mlp")


def make_model(name: str, in_dim: int, cfg: dict[str, Any]) -> nn.Module:
    hidden = list(cfg["hidden"])
    if name == "mlp":
        return MLPDistance(in_dim, hidden)
    return QuasimetricNet(in_dim, hidden, cfg["n_mixtures"], cfg["n_processes"], variant=name.split("_")[1])


def predict(model: nn.Module, feats: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    return model(feats[i], feats[j])


def fit(model: nn.Module, task: PairTask, cfg: dict[str, Any], seed: int, device: torch.device) -> list[float]:
    """Adam on MSE over minibatches of training pairs; returns the loss every 10% of the steps."""
    g = torch.Generator().manual_seed(seed)
    feats, dist, pairs = task.features.to(device), task.distances.to(device), task.train_pairs
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    curve = []
    for step in range(cfg["steps"]):
        idx = pairs[torch.randint(len(pairs), (min(cfg["batch_size"], len(pairs)),), generator=g)].to(device)
        loss = (predict(model, feats, idx[:, 0], idx[:, 1]) - dist[idx[:, 0], idx[:, 1]]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % max(1, cfg["steps"] // 10) == 0:
            curve.append(float(loss.detach()))
    return curve


@torch.no_grad()
def evaluate(model: nn.Module, task: PairTask, n_triples: int, seed: int, device: torch.device,
             rtol: float = 1e-5) -> dict[str, float]:
    """Train/test MSE, triangle-inequality violations on random triples, |d(x, x)| and asymmetry."""
    feats, dist = task.features.to(device), task.distances.to(device)

    def mse(p: torch.Tensor) -> float:
        p = p.to(device)
        return float((predict(model, feats, p[:, 0], p[:, 1]) - dist[p[:, 0], p[:, 1]]).pow(2).mean())

    n = feats.shape[0]
    g = torch.Generator().manual_seed(seed)
    i, j, k = torch.randint(n, (3, n_triples), generator=g).to(device)
    d_ij, d_jk, d_ik = (predict(model, feats, a, b) for a, b in ((i, j), (j, k), (i, k)))
    excess = d_ik - d_ij - d_jk
    # A violation must exceed float rounding: rtol times the size of the terms involved.
    tol = rtol * (d_ik.abs() + d_ij.abs() + d_jk.abs() + 1e-12)
    viol = excess > tol
    nodes = torch.arange(n, device=device)
    test = task.test_pairs.to(device)
    d_test = dist[test[:, 0], test[:, 1]]
    mse_mean = float((d_test - dist[task.train_pairs[:, 0].to(device), task.train_pairs[:, 1].to(device)].mean()).pow(2).mean())
    test_mse = mse(task.test_pairs)
    return {
        "train_mse": mse(task.train_pairs), "test_mse": test_mse,
        # how much better than predicting the mean training distance: > 0 means the model learned something
        "test_mse_vs_mean": 1.0 - test_mse / max(mse_mean, 1e-12),
        "triangle_violation_fraction": float(viol.float().mean()),
        "triangle_violation_mean": float(excess.clamp_min(0).mean()),
        "triangle_violation_max": float(excess.max()),
        "self_distance_mean_abs": float(predict(model, feats, nodes, nodes).abs().mean()),
        "negative_fraction": float((d_ij < 0).float().mean()),
    }


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    torch.set_num_threads(1)
    per_seed: dict[str, list[dict[str, float]]] = {m: [] for m in cfg["models"]}
    curves: dict[str, list[float]] = {}
    for seed in ctx.sub_seeds(cfg["seeds"]):
        task = graph_pair_task(cfg["n_nodes"], cfg["edge_prob"], cfg["train_fraction"], cfg["features"],
                               cfg["feature_dim"], seed=seed)
        true_tri = evaluate_true(task, cfg["n_triples"], seed)
        for name in cfg["models"]:
            torch.manual_seed(seed)
            model = make_model(name, task.features.shape[1], cfg).to(ctx.device)
            curve = fit(model, task, cfg, seed, ctx.device)
            res = evaluate(model, task, cfg["n_triples"], seed, ctx.device)
            res["true_triangle_violation_fraction"] = true_tri
            per_seed[name].append(res)
            curves.setdefault(name, curve)
            ctx.log(f"seed {seed} {name}: train MSE {res['train_mse']:.4f} test MSE {res['test_mse']:.4f} "
                    f"triangle violations {res['triangle_violation_fraction']:.4f} "
                    f"|d(x,x)| {res['self_distance_mean_abs']:.3g}")
    summary = {name: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for name, rs in per_seed.items()}
    for name, rs in per_seed.items():
        summary[name]["test_mse_std"] = float(np.std([r["test_mse"] for r in rs]))
    metrics = {"summary": summary, "per_seed": per_seed, "train_curves": curves}
    _figure(metrics, cfg, ctx)
    return metrics


def evaluate_true(task: PairTask, n_triples: int, seed: int) -> float:
    """Sanity check of the task: violation fraction of the true shortest-path distances (0 beyond rounding)."""
    d = task.distances.double()
    g = torch.Generator().manual_seed(seed)
    i, j, k = torch.randint(d.shape[0], (3, n_triples), generator=g)
    tol = 1e-5 * (d[i, k] + d[i, j] + d[j, k])  # distances are stored normalised in float32
    return float((d[i, k] - d[i, j] - d[j, k] > tol).double().mean())


def _figure(m: dict[str, Any], cfg: dict[str, Any], ctx: StudyContext) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(m["summary"])
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    x = np.arange(len(names))
    axes[0].bar(x, [m["summary"][n]["test_mse"] for n in names],
                yerr=[m["summary"][n]["test_mse_std"] for n in names], color=["C0", "C1", "C3"][: len(names)])
    axes[0].set(xticks=x, xticklabels=names, ylabel="held-out MSE (normalised distance)", title="generalisation")
    axes[1].bar(x, [m["summary"][n]["triangle_violation_fraction"] for n in names], color=["C0", "C1", "C3"][: len(names)])
    axes[1].set(xticks=x, xticklabels=names, ylabel="fraction of triples", title="triangle-inequality violations")
    for n in names:
        axes[2].plot(np.linspace(0.1, 1, len(m["train_curves"][n])), m["train_curves"][n], "o-", label=n)
    axes[2].set(yscale="log", xlabel="fraction of training", ylabel="train MSE (batch)", title="training")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"{cfg['n_nodes']} nodes, edge p={cfg['edge_prob']}, train fraction {cfg['train_fraction']}, "
                 f"{cfg['seeds']} seeds", fontsize=8)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("quasimetric.png"), dpi=110)
    plt.close(fig)


def checks(m: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    s = m["summary"]
    pqes = [n for n in s if n.startswith("pqe")]
    out = []
    if "mlp" in s:
        guard = {"reference": s["mlp"].get("test_mse_vs_mean", float("nan")), "floor": 0.0,
                 "reference_name": "MLP: 1 - test MSE / MSE of the mean predictor"}
        for n in pqes:
            out.append(Check(f"{n} beats the unconstrained MLP on held-out pairs (test MSE ratio PQE/MLP)",
                             s[n]["test_mse"] / s["mlp"]["test_mse"], "<", 1.0, **guard,
                             detail=f"PQE {s[n]['test_mse']:.4f}±{s[n]['test_mse_std']:.4f}, "
                                    f"MLP {s['mlp']['test_mse']:.4f}±{s['mlp']['test_mse_std']:.4f}"))
        out.append(Check("the MLP's predictions are not a quasimetric (triangle violations or d(x,x) != 0)",
                         bool(s["mlp"]["triangle_violation_fraction"] > 0 or s["mlp"]["self_distance_mean_abs"] > 1e-3),
                         "true", paper("mlp_not_quasimetric"),
                         detail=f"violations {s['mlp']['triangle_violation_fraction']:.3g}, "
                                f"|d(x,x)| {s['mlp']['self_distance_mean_abs']:.3g}"))
    return out


_BASE = {"models": list(MODELS), "edge_prob": 0.05, "features": "gaussian", "feature_dim": 32, "n_mixtures": 16,
         "n_processes": 4, "lr": 3e-3, "batch_size": 256, "n_triples": 20000}
STUDY = Study(
    name="quasimetric",
    title="On the learning and learnability of quasimetrics",
    authors="T. Wang, P. Isola",
    year=2022,
    url="https://arxiv.org/abs/2206.15478",
    claim="Unconstrained MLPs do not learn quasimetrics consistently; Poisson Quasimetric Embeddings generalise "
          "better on held-out pairs and satisfy the triangle inequality by construction.",
    scales={
        "smoke": {**_BASE, "n_nodes": 24, "train_fraction": 0.5, "hidden": [64], "steps": 120, "seeds": 1,
                  "n_mixtures": 8, "batch_size": 128, "n_triples": 4000},
        "small": {**_BASE, "n_nodes": 100, "train_fraction": 0.5, "hidden": [128, 128], "steps": 1000, "seeds": 3},
        "paper": {**_BASE, "n_nodes": 300, "train_fraction": 0.5, "hidden": [512, 512, 512], "steps": 50000,
                  "lr": 1e-3, "batch_size": 1024, "seeds": 5, "n_mixtures": 64, "n_triples": 200000},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"pqe_beats_mlp": True, "mlp_not_quasimetric": True},
    deviations=[
        "PQE satisfies the triangle inequality by construction, so that is a unit test "
        "(tests/models/test_quasimetric.py), not a study check",
        "a synthetic random directed graph with Gaussian node features instead of the paper's benchmark graphs "
        "and embedding sizes",
    ],
)
