"""Polarity is all you need to learn and transfer faster (Wang et al., ICML 2023).

XOR-5D (XOR of two inputs plus three noise inputs), one hidden ReLU layer. Three conditions, all from the
same random magnitudes: ``free`` weights; ``informed`` polarity frozen to the signs of a network already
trained on the task (polarity transfer, ``FixedPolarity`` with the teacher's signs); ``random`` polarity
frozen to random signs. For each training-set size we measure the epochs to reach the test-accuracy cutoff
and the fraction of seeds that reach it. All seeds train at once: weights are stacked along a seed axis
and trained with batched matmuls, the optimizer sees the stacked tensors (signs are per weight, so the
constraint is unchanged).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data.synthetic import xor5d
from ..geometry import FixedPolarity
from .base import CheckResult, Study, StudyContext

CONDITIONS = ("free", "informed", "random")


def _data(seeds: int, n: int, n_test: int, base_seed: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    parts = [xor5d(n_train=n, n_test=n_test, seed=base_seed + 1000 * s + n) for s in range(seeds)]
    return tuple(torch.stack([getattr(p, k) for p in parts]).to(device) for k in ("x_train", "y_train", "x_test",
                                                                                  "y_test"))


def _init(seeds: int, hidden: int, gen: torch.Generator, device: torch.device) -> list[torch.Tensor]:
    """nn.Linear-style uniform init for a stack of 5-hidden-2 networks: W1, b1, W2, b2."""
    def u(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
        return ((torch.rand(shape, generator=gen) * 2 - 1) / fan_in ** 0.5).to(device)
    return [u((seeds, hidden, 5), 5), u((seeds, hidden), 5), u((seeds, 2, hidden), hidden), u((seeds, 2), hidden)]


def _forward(ps: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2 = ps
    h = F.relu(torch.einsum("sbi,shi->sbh", x, w1) + b1[:, None])
    return torch.einsum("sbh,soh->sbo", h, w2) + b2[:, None]


def _accuracy(ps: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return (_forward(ps, x).argmax(-1) == y).float().mean(1)


def train_stack(ps: list[torch.Tensor], data: tuple[torch.Tensor, ...], epochs: int, cfg: dict[str, Any],
                pattern: list[torch.Tensor] | str | None, seed: int) -> tuple[np.ndarray, list[torch.Tensor]]:
    """Train stacked nets with SGD (optionally frozen polarity on W1, W2).

    Returns the test accuracy after each epoch [S, E] and the trained parameters.
    """
    x, y, xt, yt = data
    ps = [p.clone().requires_grad_(True) for p in ps]
    weights, biases = [ps[0], ps[2]], [ps[1], ps[3]]
    opt: torch.optim.Optimizer = torch.optim.SGD(weights, lr=cfg["lr"], momentum=cfg["momentum"])
    if pattern is not None:
        opt = FixedPolarity(opt, pattern, reset=cfg["reset"], seed=seed)
    opt_b = torch.optim.SGD(biases, lr=cfg["lr"], momentum=cfg["momentum"])
    n, bs = x.shape[1], min(cfg["batch_size"], x.shape[1])
    gen = torch.Generator().manual_seed(seed)
    accs = []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(x.device)
        for i in range(0, n - bs + 1, bs):
            idx = perm[i:i + bs]
            out = _forward(ps, x[:, idx])
            # sum over seeds of each net's mean loss: every net gets its own gradient
            loss = F.cross_entropy(out.reshape(-1, 2), y[:, idx].reshape(-1), reduction="sum") / bs
            for p in ps:
                p.grad = None
            loss.backward()
            opt.step()
            opt_b.step()
        accs.append(_accuracy(ps, xt, yt).cpu().numpy())
    return np.stack(accs, 1), [p.detach() for p in ps]


def epochs_to_cutoff(acc: np.ndarray, cutoff: float) -> np.ndarray:
    """First epoch (1-based) with test accuracy ≥ cutoff per seed; ``inf`` where never reached."""
    hit = acc >= cutoff
    return np.where(hit.any(1), hit.argmax(1) + 1.0, np.inf)


def samples_needed(sizes: list[int], success: list[float], level: float = 0.5) -> float | None:
    """Training-set size where the fraction of seeds reaching the cutoff first crosses ``level``
    (linear interpolation in log n between the grid sizes); None if it never does."""
    prev_n, prev_s = None, 0.0
    for n, s in zip(sizes, success, strict=True):
        if s >= level:
            if prev_n is None or s == prev_s:
                return float(n)
            t = (level - prev_s) / (s - prev_s)
            return float(np.exp(np.log(prev_n) + t * (np.log(n) - np.log(prev_n))))
        prev_n, prev_s = n, s
    return None


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    dev, seeds = ctx.device, cfg["seeds"]
    gen = torch.Generator().manual_seed(ctx.seed)
    # teachers: free nets trained on plenty of data; their signs are the informed polarity
    teacher = _init(seeds, cfg["hidden"], gen, dev)
    tdata = _data(seeds, cfg["teacher_n"], cfg["n_test"], ctx.seed + 7, dev)
    tacc, trained = train_stack(teacher, tdata, cfg["teacher_epochs"], cfg, None, ctx.seed)
    teacher_acc = tacc[:, -1]
    informed = [torch.where(trained[i] < 0, -1.0, 1.0) for i in (0, 2)]
    ctx.log(f"[polarity] teachers: median test acc {np.median(teacher_acc):.3f}")
    res: dict[str, Any] = {"sizes": list(cfg["sizes"]), "teacher_acc_median": float(np.median(teacher_acc))}
    for cond in CONDITIONS:
        res[cond] = {"median_epochs": [], "success": [], "final_acc": [], "epochs": []}
    for n in cfg["sizes"]:
        data = _data(seeds, int(n), cfg["n_test"], ctx.seed, dev)
        start = _init(seeds, cfg["hidden"], gen, dev)
        for cond in CONDITIONS:
            pattern = None if cond == "free" else informed if cond == "informed" else "random"
            acc, _ = train_stack(start, data, cfg["epochs"], cfg, pattern, ctx.seed + int(n))
            ep = epochs_to_cutoff(acc, cfg["cutoff"])
            r = res[cond]
            med = float(np.median(ep))
            r["median_epochs"].append(med if np.isfinite(med) else None)
            r["success"].append(float(np.isfinite(ep).mean()))
            r["final_acc"].append(float(np.median(acc[:, -1])))
            r["epochs"].append([float(e) if np.isfinite(e) else None for e in ep])
        ctx.log(f"[polarity] n={n}: " + "; ".join(
            f"{c} median epochs {res[c]['median_epochs'][-1]}, reach {res[c]['success'][-1]:.2f}, "
            f"acc {res[c]['final_acc'][-1]:.3f}" for c in CONDITIONS))
    for cond in CONDITIONS:
        res[cond]["samples_needed"] = samples_needed(cfg["sizes"], res[cond]["success"])
    _figure(res, cfg, ctx)
    return res


def _figure(res: dict[str, Any], cfg: dict[str, Any], ctx: StudyContext) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sizes = res["sizes"]
    for cond in CONDITIONS:
        med = [m if m is not None else np.nan for m in res[cond]["median_epochs"]]
        axes[0].plot(sizes, med, "o-", label=cond)
        axes[1].plot(sizes, res[cond]["success"], "o-", label=cond)
    axes[0].set_ylabel(f"median epochs to {cfg['cutoff']:.0%} test acc")
    axes[1].set_ylabel(f"fraction of {cfg['seeds']} seeds reaching the cutoff")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training samples")
        ax.legend()
    fig.suptitle("XOR-5D: frozen informed polarity vs free weights")
    fig.tight_layout()
    fig.savefig(ctx.figure_path("polarity.png"), dpi=110)
    plt.close(fig)


def _pooled_median(res: dict[str, Any], cond: str) -> float:
    eps = [e if e is not None else np.inf for row in res[cond]["epochs"] for e in row]
    return float(np.median(eps))


def _fmt(x: float | None) -> str:
    return "never" if x is None else f"{x:.0f}"


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[CheckResult]:
    inf_med, free_med = _pooled_median(metrics, "informed"), _pooled_median(metrics, "free")
    sn_inf, sn_free = metrics["informed"]["samples_needed"], metrics["free"]["samples_needed"]
    big = float("inf")
    acc = {c: [round(a, 3) for a in metrics[c]["final_acc"]] for c in ("free", "informed")}
    return [
        CheckResult("informed frozen polarity reaches the cutoff in fewer median epochs than free weights",
                    measured=f"{inf_med:g} vs {free_med:g}", paper="fewer", passed=inf_med < free_med,
                    detail=f"pooled over sizes {metrics['sizes']} and {cfg['seeds']} seeds (inf = never)"),
        CheckResult("informed frozen polarity needs fewer samples than free weights",
                    measured=f"{_fmt(sn_inf)} vs {_fmt(sn_free)}", paper="fewer",
                    passed=(sn_inf if sn_inf is not None else big) < (sn_free if sn_free is not None else big),
                    detail="training-set size where 50% of seeds reach the cutoff (log-interpolated); median "
                           f"final test acc per size {metrics['sizes']}: informed {acc['informed']}, free {acc['free']}"),
    ]


_BASE = {"hidden": 20, "lr": 0.05, "momentum": 0.9, "batch_size": 32, "reset": "zero", "cutoff": 0.9,
         "n_test": 2000, "teacher_n": 4000, "teacher_epochs": 30}

STUDY = Study(
    name="polarity",
    title="Polarity is all you need to learn and transfer faster",
    authors="Wang, Powell, Geisa, Bridgeford, Priebe, Vogelstein",
    year=2023,
    url="https://proceedings.mlr.press/v202/wang23ae.html",
    claim="networks whose weight signs are frozen to a good pattern learn with fewer samples and epochs",
    scales={
        "smoke": {**_BASE, "seeds": 3, "sizes": [100, 400], "epochs": 5, "hidden": 32, "teacher_n": 800,
                  "teacher_epochs": 5, "n_test": 500},
        "small": {**_BASE, "seeds": 20, "sizes": [25, 50, 75, 100, 150, 200, 400], "epochs": 60},
        "paper": {**_BASE, "seeds": 50, "sizes": [25, 50, 100, 200, 400, 800, 1600, 3200], "epochs": 200,
                  "hidden": 100},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"informed_fewer_epochs": True, "informed_fewer_samples": True},
)
