"""Synaptic weight distributions depend on the geometry of plasticity (Pogodin et al., ICLR 2024).

(A) Under-determined linear regression (D weights, N = D^0.5 samples) trained to convergence with mirror
descent under each of three potentials (2-norm = GD, 3-norm, negentropy = exponentiated gradient). The
dual-space change ∇ψ(w_T) − ∇ψ(w_0) lies in the span of the N inputs, so it is Gaussian for the training
potential ψ = φ and distorted for the others; the paper's metric is ∫_{−5}^{5} |ECDF − Φ| of the
standardised change. (B) An MLP trained on MNIST (digits if MNIST is absent) from log-normal weights:
exponentiated gradient keeps each layer log-normal (log-normal beats normal by the log-likelihood
ratio), gradient descent does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..analysis.weights import distance_to_normal, dual_change, lognormal_vs_normal
from ..data import batches, has_dataset, load_dataset
from ..geometry import MirrorDescent
from ..lab.trainer import evaluate
from ..models import MLP
from ..rules import make_rule
from .base import CheckResult, Study, StudyContext


def _signed_lognormal(shape: tuple[int, ...], sigma: float, rms: float, gen: torch.Generator,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random-sign weights with log-normal magnitudes, rescaled to root-mean-square ``rms``."""
    mag = torch.exp(sigma * torch.randn(shape, generator=gen, dtype=dtype))
    mag = mag * (rms / mag.pow(2).mean().sqrt())
    return mag * (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(dtype)


def regression_distances(d: int, seed: int, potentials: list[str], lrs: dict[str, float], steps: int,
                         sigma: float, device: torch.device) -> tuple[np.ndarray, list[float]]:
    """Train on one random regression task with each potential; distances[train, eval] and final rel. losses."""
    gen = torch.Generator().manual_seed(seed)
    n = round(d ** 0.5)
    x = (torch.randn(n, d, generator=gen, dtype=torch.float64) / d ** 0.5).to(device)
    w0 = _signed_lognormal((d,), sigma, 0.1, gen, torch.float64).to(device)
    y = x @ _signed_lognormal((d,), sigma, 0.1, gen, torch.float64).to(device)
    dist = np.zeros((len(potentials), len(potentials)))
    losses = []
    for i, train in enumerate(potentials):
        w = w0.clone().requires_grad_(True)
        opt = MirrorDescent([w], lr=lrs[train], potential=train)
        for _ in range(steps):
            w.grad = x.T @ (x @ w.detach() - y)
            opt.step()
        losses.append(float(((x @ w.detach() - y) ** 2).sum() / (y ** 2).sum()))
        for j, ev in enumerate(potentials):
            dist[i, j] = distance_to_normal(dual_change(w0, w.detach(), ev))
    return dist, losses


def mlp_fingerprints(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    """Train the log-normal-initialised MLP with each potential; per-layer normal vs log-normal fits."""
    name = cfg["mlp_dataset"] if has_dataset(cfg["mlp_dataset"]) or cfg["mlp_dataset"] == "digits" else "digits"
    data = load_dataset(name).subset(n_train=cfg["mlp_n_train"], n_test=cfg["mlp_n_test"]).to(ctx.device)
    out: dict[str, Any] = {"dataset": name}
    for pot, lr in cfg["mlp_lrs"].items():
        gen = torch.Generator().manual_seed(ctx.seed)
        torch.manual_seed(ctx.seed)
        model = MLP([data.n_features, *cfg["mlp_hidden"], data.n_classes])
        with torch.no_grad():
            for layer in model.layers:
                fan_in = layer.weight.shape[1]
                layer.weight.copy_(_signed_lognormal(tuple(layer.weight.shape), cfg["mlp_sigma"],
                                                     cfg["mlp_init_gain"] / fan_in ** 0.5, gen))
        model.to(ctx.device)
        init = [lognormal_vs_normal(layer.weight) for layer in model.layers]
        rule = make_rule("bp")
        rule.prepare(model)
        opt = MirrorDescent(model.parameters(), lr=lr, potential=pot)
        for ep in range(cfg["mlp_epochs"]):
            for xb, yb in batches(data.x_train, data.y_train, cfg["mlp_batch_size"], seed=ctx.seed, epoch=ep):
                rule.step(model, xb, yb)
                opt.step()
        acc = evaluate(model, data.x_test, data.y_test)["accuracy"]
        fits = [lognormal_vs_normal(layer.weight) for layer in model.layers]
        out[pot] = {"accuracy": acc, "layers": fits, "init_layers": init,
                    "weights": [layer.weight.detach().cpu().flatten().numpy() for layer in model.layers]}
        ctx.log(f"[geometry] MLP {name} {pot}: acc {acc:.3f}, LLR per layer "
                + ", ".join(f"{f['llr']:+.3f}" for f in fits))
    return out


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    pots = list(cfg["potentials"])
    reg: dict[str, Any] = {}
    for d in cfg["dims"]:
        mats, losses = [], []
        for s in range(cfg["seeds"]):
            dist, loss = regression_distances(int(d), ctx.seed + s, pots, cfg["lrs"], cfg["steps"], cfg["sigma"],
                                              ctx.device)
            mats.append(dist.tolist())
            losses.append(loss)
        arr = np.asarray(mats)
        wins = [int(sum(arr[s, i].argmin() == i for s in range(arr.shape[0]))) for i in range(len(pots))]
        reg[str(d)] = {"distances": mats, "mean": arr.mean(0).tolist(), "matching_wins": wins,
                       "max_rel_loss": float(np.max(losses))}
        ctx.log(f"[geometry] D={d}: matching potential smallest in {wins} of {cfg['seeds']} seeds "
                f"(train order {pots}); max final rel. loss {np.max(losses):.1e}")
    mlp = mlp_fingerprints(cfg, ctx)
    _figure(reg, mlp, pots, ctx)
    for pot in cfg["mlp_lrs"]:
        mlp[pot].pop("weights")
    return {"potentials": pots, "regression": reg, "mlp": mlp, "seeds": cfg["seeds"]}


def _figure(reg: dict[str, Any], mlp: dict[str, Any], pots: list[str], ctx: StudyContext) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    big = reg[max(reg, key=int)]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    im = ax.imshow(np.asarray(big["mean"]), cmap="viridis")
    ax.set_xticks(range(len(pots)), pots)
    ax.set_yticks(range(len(pots)), pots)
    ax.set_xlabel("potential of the dual change")
    ax.set_ylabel("training potential")
    ax.set_title(f"∫|ECDF−Φ|, D={max(reg, key=int)} (mean over seeds)")
    fig.colorbar(im, ax=ax)
    for k, pot in enumerate(("euclidean", "negentropy")):
        if pot not in mlp:
            continue
        ax = axes[1 + k]
        for i, w in enumerate(mlp[pot]["weights"]):
            w = w[(w != 0) & np.isfinite(w)]
            ax.hist(np.log(np.abs(w)), bins=60, density=True, histtype="step", label=f"layer {i + 1}")
        ax.set_title(f"MLP after {pot}: log|w| (log-normal = Gaussian here)")
        ax.set_xlabel("log |w|")
        ax.legend()
    fig.tight_layout()
    fig.savefig(ctx.figure_path("geometry.png"), dpi=110)
    plt.close(fig)


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[CheckResult]:
    pots = metrics["potentials"]
    d_max = str(max(int(d) for d in metrics["regression"]))
    reg = metrics["regression"][d_max]
    need = cfg["min_wins"]
    out = [CheckResult(f"D={d_max}: trained with {p}, the {p} dual change is the most Gaussian",
                       measured=f"{reg['matching_wins'][i]}/{cfg['seeds']} seeds", paper=f">= {need}/{cfg['seeds']}",
                       passed=reg["matching_wins"][i] >= need,
                       detail=f"mean distances {[round(v, 3) for v in reg['mean'][i]]} for {pots}")
           for i, p in enumerate(pots)]
    mlp = metrics["mlp"]
    if "negentropy" in mlp:
        llr = [f["llr"] for f in mlp["negentropy"]["layers"]]
        out.append(CheckResult("MLP, exponentiated gradient: log-normal beats normal in every layer",
                               measured=float(min(llr)), paper="LLR > 0", passed=min(llr) > 0,
                               detail=f"per-layer LLR {[round(v, 3) for v in llr]}, "
                                      f"acc {mlp['negentropy']['accuracy']:.3f} on {mlp['dataset']}"))
    if "euclidean" in mlp:
        llr = [f["llr"] for f in mlp["euclidean"]["layers"]]
        llr0 = [f["llr"] for f in mlp["euclidean"]["init_layers"]]
        out.append(CheckResult("MLP, gradient descent: weights no longer log-normal (normal wins) in every layer",
                               measured=float(max(llr)), paper="LLR < 0", passed=max(llr) < 0,
                               detail=f"per-layer LLR {[round(v, 3) for v in llr]} (at init "
                                      f"{[round(v, 3) for v in llr0]}), "
                                      f"acc {mlp['euclidean']['accuracy']:.3f} on {mlp['dataset']}"))
    return out


_BASE = {"potentials": ["euclidean", "3-norm", "negentropy"], "lrs": {"euclidean": 1.0, "3-norm": 0.1,
                                                                      "negentropy": 3.0},
         "sigma": 0.5, "min_wins": 4, "mlp_sigma": 0.5, "mlp_init_gain": 1.0, "mlp_batch_size": 64,
         "mlp_lrs": {"euclidean": 0.1, "negentropy": 3.0}, "mlp_n_test": 2000}

STUDY = Study(
    name="geometry",
    title="Synaptic weight distributions depend on the geometry of plasticity",
    authors="Pogodin, Cornford, Ghosh, Gidel, Lajoie, Richards",
    year=2024,
    url="https://openreview.net/forum?id=x5txICnnjC",
    claim="the dual-space weight change is Gaussian only under the potential that matches the training rule; "
          "exponentiated gradient keeps log-normal weights log-normal, gradient descent does not",
    scales={
        "smoke": {**_BASE, "dims": [200], "seeds": 2, "steps": 300, "min_wins": 2, "mlp_dataset": "digits",
                  "mlp_n_train": 400, "mlp_n_test": 200, "mlp_hidden": [32], "mlp_epochs": 4},
        "small": {**_BASE, "dims": [500, 1000, 2000], "seeds": 5, "steps": 3000, "mlp_dataset": "mnist",
                  "mlp_n_train": 60000, "mlp_hidden": [100, 100], "mlp_epochs": 3},
        "paper": {**_BASE, "dims": [1000, 2000, 5000, 10000], "seeds": 10, "steps": 20000, "mlp_dataset": "mnist",
                  "mlp_n_train": 60000, "mlp_n_test": 10000, "mlp_hidden": [500, 500], "mlp_epochs": 20},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"matching_potential_smallest": True, "eg_lognormal_llr": "> 0", "gd_lognormal_llr": "< 0"},
)
