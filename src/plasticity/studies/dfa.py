"""Direct feedback alignment (Nøkland 2016) and its optical co-processor (Launay et al. 2020).

BP, DFA and optical DFA (``dfa-optical``: ternarised error, complex scattering medium, quantised camera)
train the same MLP. Every recipe is chosen on a validation split carved from the training set (a learning-rate
grid per rule, scored by final validation accuracy); the test set is read once, for the chosen model. We
report test accuracy, the optical-vs-digital gap and the angle between DFA's and BP's weight updates.

The ``paper`` scale is Nøkland's protocol from anokland/dfa-torch (``Models/mlp.lua``,
``Models/ErrorFeedback.lua``): 784-800-800-10 tanh, sigmoid outputs with binary cross-entropy, RMSprop
lr 1e-4, batch 64, dropout 0.1 on the input and 0.5 after each hidden nonlinearity, forward weights and
biases starting at zero for DFA, feedback uniform in ±1/sqrt(width) (our ``feedback_scale`` 1/sqrt(3) of the
unit-variance default), injected after dropout as ErrorFeedback is; long training (target 1.45 % test error).

Deviations from the paper and its code are listed in ``STUDY.deviations``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

from ..analysis.alignment import update_alignment
from ..data import batches, load_dataset
from ..data.task import TaskData
from ..errors import ConfigError
from ..lab.trainer import correct_per_example, evaluate
from ..models import MLP
from ..rules import make_rule
from .base import Study, StudyContext
from .checks import Check, accuracy_se, paired_se_table, paper, stored_diff_se

OPTIMIZERS = ("rmsprop", "adam", "sgd")


def split_validation(data: TaskData, fraction: float, seed: int) -> tuple[TaskData, torch.Tensor, torch.Tensor]:
    """Carve a random ``fraction`` of the training set out as validation; the test set is left untouched."""
    n = data.x_train.shape[0]
    n_val = max(1, round(fraction * n))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(10_007 + seed))
    val, tr = perm[:n_val], perm[n_val:]
    train = TaskData(data.name, data.x_train[tr], data.y_train[tr], data.x_test, data.y_test, data.input_shape,
                     data.n_classes)
    return train, data.x_train[val], data.y_train[val]


def _optimizer(name: str, params: Any, lr: float) -> torch.optim.Optimizer:
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def train_one(rule_name: str, lr: float, cfg: dict[str, Any], train: TaskData, x_val: torch.Tensor,
              y_val: torch.Tensor, seed: int, device: torch.device) -> tuple[torch.nn.Module, list[float]]:
    """Train one model with ``rule_name`` at ``lr``; returns it and its validation accuracy after each epoch."""
    torch.manual_seed(seed)
    init = "zero" if cfg["zero_init"] and rule_name != "bp" else "default"
    model = MLP([train.n_features, *cfg["hidden"], train.n_classes], activation=cfg["activation"],
                dropout=tuple(cfg["dropout"]), init=init).to(device)
    kw: dict[str, Any] = {"loss": cfg["loss"], "seed": seed}
    if rule_name != "bp":
        kw["feedback_scale"] = cfg["feedback_scale"]
    rule = make_rule(rule_name, **kw)
    rule.prepare(model)
    opt = _optimizer(cfg["optimizer"], model.parameters(), lr)
    curve = []
    for ep in range(cfg["epochs"]):
        model.train()
        for xb, yb in batches(train.x_train, train.y_train, cfg["batch_size"], seed=seed, epoch=ep):
            rule.step(model, xb, yb)
            opt.step()
            opt.zero_grad(set_to_none=True)
        acc = float(evaluate(model, x_val, y_val, loss=cfg["loss"])["accuracy"])
        if not math.isfinite(acc):
            raise ConfigError(f"rule {rule_name} at lr={lr} diverged at epoch {ep + 1}")
        curve.append(acc)
    model.eval()
    model._plasticity_rule = rule  # kept for the alignment measurement
    return model, curve


def run_dataset(name: str, cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    data = load_dataset(name)  # a missing dataset is a DataError naming the file; never another dataset
    if cfg["n_train"]:
        data = data.subset(n_train=cfg["n_train"])
    train, x_val, y_val = split_validation(data, cfg["val_fraction"], ctx.seed)
    train, x_val, y_val = train.to(ctx.device), x_val.to(ctx.device), y_val.to(ctx.device)
    out: dict[str, Any] = {"n_train": int(train.x_train.shape[0]), "n_val": int(x_val.shape[0]),
                           "n_test": int(data.x_test.shape[0]), "n_classes": int(data.n_classes), "rules": {}}
    x_test, y_test = data.x_test.to(ctx.device), data.y_test.to(ctx.device)
    correct: dict[str, torch.Tensor] = {}
    for rule_name in cfg["rules"]:
        search = []
        best = None
        for lr in cfg["lrs"]:
            model, curve = train_one(rule_name, lr, cfg, train, x_val, y_val, ctx.seed, ctx.device)
            search.append({"lr": lr, "val_accuracy": curve[-1], "val_curve": curve})
            ctx.log(f"[dfa] {name} {rule_name} lr={lr:g}: val acc {curve[-1]:.4f}")
            if best is None or curve[-1] > best[0]:
                best = (curve[-1], lr, copy.deepcopy(model.state_dict()), model)
        assert best is not None
        _, lr, state, model = best
        model.load_state_dict(state)
        correct[rule_name] = correct_per_example(model, x_test, y_test)   # the test set, read once per rule
        test_acc = int(correct[rule_name].sum()) / correct[rule_name].numel()
        r: dict[str, Any] = {"chosen_lr": lr, "val_accuracy": best[0], "test_accuracy": test_acc,
                             "test_error_pct": 100 * (1 - test_acc), "search": search}
        if rule_name != "bp":
            ang = update_alignment(model, model._plasticity_rule, x_val[:256], y_val[:256])
            hidden = [v for k, v in ang.items() if not k.startswith(f"layers.{len(cfg['hidden'])}.")]
            r["alignment_deg"] = ang
            r["alignment_hidden_mean_deg"] = float(np.mean(hidden)) if hidden else float("nan")
        out["rules"][rule_name] = r
        ctx.log(f"[dfa] {name} {rule_name}: chosen lr {lr:g} (val {best[0]:.4f}) -> test acc "
                f"{r['test_accuracy']:.4f}")
    # the rules are scored on the same test images: the paired s.e. of each compared difference
    out["paired_se"] = paired_se_table(correct, (("dfa", "bp"), ("dfa-optical", "dfa")))
    return out


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    for key in ("rules", "datasets", "lrs"):
        if not cfg[key]:
            raise ConfigError(f"study 'dfa' config key {key!r} must not be empty")
    if cfg["optimizer"] not in OPTIMIZERS:
        raise ConfigError(f"study 'dfa' config key 'optimizer' must be one of {', '.join(OPTIMIZERS)}, "
                          f"got {cfg['optimizer']!r}")
    res = {"datasets": {name: run_dataset(name, cfg, ctx) for name in cfg["datasets"]}}
    _figure(res, ctx)
    return res


def _figure(res: dict[str, Any], ctx: StudyContext) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res["datasets"])
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        rules = res["datasets"][name]["rules"]
        for i, (rule, r) in enumerate(rules.items()):
            chosen = next(s for s in r["search"] if s["lr"] == r["chosen_lr"])
            ax.plot(range(1, len(chosen["val_curve"]) + 1), chosen["val_curve"], color=f"C{i}",
                    label=f"{rule} (lr {r['chosen_lr']:g}; test {100 * r['test_accuracy']:.2f}%)")
        ax.set(xlabel="epoch", ylabel="validation accuracy", title=name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("dfa.png"), dpi=100)
    plt.close(fig)


def checks(m: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    out = []
    for name, d in m["datasets"].items():
        r = d["rules"]
        floor = 5.0 / d["n_classes"]
        n = int(d["n_test"])
        paired = d.get("paired_se", {})

        def se(a: str, b: str, r: dict[str, Any] = r, n: int = n, paired: dict[str, Any] = paired) -> float:
            return stored_diff_se(paired, a, b, r[a]["test_accuracy"], r[b]["test_accuracy"], n)

        if "bp" in r and "dfa" in r:
            out.append(Check(f"{name}: DFA minus BP test accuracy, points", 100 * (r["dfa"]["test_accuracy"]
                                                                                  - r["bp"]["test_accuracy"]),
                             ">=", -paper("dfa_within_bp_points"), reference=r["bp"]["test_accuracy"], floor=floor,
                             reference_name="BP test accuracy",
                             se=100 * se("dfa", "bp"),
                             detail=f"DFA {r['dfa']['test_accuracy']:.4f} (lr {r['dfa']['chosen_lr']:g}) vs BP "
                                    f"{r['bp']['test_accuracy']:.4f} (lr {r['bp']['chosen_lr']:g})"))
        if "dfa" in r and "dfa-optical" in r:
            out.append(Check(f"{name}: optical minus digital DFA test accuracy, points",
                             100 * (r["dfa-optical"]["test_accuracy"] - r["dfa"]["test_accuracy"]), ">=",
                             -paper("optical_within_dfa_points"), reference=r["dfa"]["test_accuracy"], floor=floor,
                             reference_name="digital DFA test accuracy",
                             se=100 * se("dfa-optical", "dfa"),
                             detail=f"optical {r['dfa-optical']['test_accuracy']:.4f}"))
        if "dfa" in r:
            out.append(Check(f"{name}: angle between DFA's and BP's hidden-layer updates, degrees",
                             r["dfa"]["alignment_hidden_mean_deg"], "<", paper("alignment_below_deg"),
                             detail="mean over hidden layers on 256 validation examples, trained model"))
        if cfg["paper_protocol"] and name == "mnist" and "dfa" in r:
            out.append(Check("MNIST DFA test error, % (Nøkland's 784-800-800-10 protocol)",
                             r["dfa"]["test_error_pct"], "<=", paper("mnist_dfa_test_error_pct"), tol=0.25,
                             se=100 * accuracy_se(r["dfa"]["test_accuracy"], n),
                             detail=f"after {cfg['epochs']} epochs"))
    return out


_BASE: dict[str, Any] = {
    "rules": ["bp", "dfa", "dfa-optical"], "activation": "tanh", "loss": "bce", "optimizer": "rmsprop",
    "batch_size": 64, "dropout": [0.0, 0.0], "zero_init": True, "feedback_scale": 1 / math.sqrt(3.0),
    "val_fraction": 0.1, "paper_protocol": False,
}

STUDY = Study(
    name="dfa",
    title="Direct feedback alignment provides learning in deep neural networks; Hardware beyond backpropagation: "
          "a photonic co-processor for direct feedback alignment",
    authors="Nøkland (2016); Launay, Poli, Müller, Carron, Daudet, Krzakala, Gigan (2020)",
    year=2016,
    url="https://arxiv.org/abs/1609.01596",
    claim="DFA trains a deep MLP to within about a point of BP on MNIST; a coarse, noisy optical random projection "
          "costs little against digital DFA; DFA's updates align with BP's (< 90 degrees)",
    scales={
        "smoke": {**_BASE, "datasets": ["digits"], "hidden": [32], "lrs": [1e-3], "epochs": 1, "n_train": 300},
        "small": {**_BASE, "datasets": ["digits", "mnist"], "hidden": [256, 256], "lrs": [3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
                  "epochs": 8,
                  "n_train": 10000},
        # Nøkland's protocol (anokland/dfa-torch) shortened to 20 epochs: about 20 CPU minutes for bp, dfa, optical
        "cpu": {**_BASE, "datasets": ["mnist"], "hidden": [800, 800], "dropout": [0.1, 0.5], "lrs": [1e-4],
                "epochs": 20, "n_train": 0, "paper_protocol": True},
        # the best CPU-reachable recipe in that budget: the same protocol with each rule's RMSprop lr chosen on the
        # validation split from {1e-4, 3e-4, 1e-3} (Nøkland's 1e-4 converges slowly in 20 of his 300 epochs)
        "cpu-lr": {**_BASE, "datasets": ["mnist"], "hidden": [800, 800], "dropout": [0.1, 0.5],
                   "lrs": [1e-4, 3e-4, 1e-3], "epochs": 20, "n_train": 0, "paper_protocol": True},
        "paper": {**_BASE, "datasets": ["mnist"], "hidden": [800, 800], "dropout": [0.1, 0.5], "lrs": [1e-4],
                  "epochs": 300, "n_train": 0, "paper_protocol": True},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"dfa_within_bp_points": 1.0, "optical_within_dfa_points": 1.0, "alignment_below_deg": 90.0,
                  "mnist_dfa_test_error_pct": 1.45},
    # cpu and paper run Nøkland's own settings (cpu: 20 epochs; cpu-lr picks its lr on each seed's validation split)
    scale_tuned_seeds={"cpu": (), "paper": ()},
    deviations=[
        "recipes are chosen per rule on a validation split carved from the training set (10%), so models train "
        "on 90% of the training images (54k at paper scale), not on all 60k as in the reference",
        "small: digits and a 10k-image MNIST subset, 256-256 tanh, 8 epochs, no dropout, lr grid {3e-4, .., 3e-2} "
        "(widened twice because validation kept choosing the top: {3e-4, 1e-3} for every rule, then {.., 1e-2} "
        "for digits DFA; the choices and all validation scores are in the records); "
        "the paper trains 800-800 with dropout for up to 300 epochs",
        "cpu: Nøkland's protocol stopped at 20 epochs (paper scale: 300), so its error is an upper bound on what the "
        "protocol reaches; 1 seed; cpu-lr chooses each rule's lr on validation from {1e-4, 3e-4, 1e-3} instead of "
        "Nøkland's fixed 1e-4",
        "'within about a point' (Nøkland's table; Launay et al.'s optical runs) is read as a gap of at most 1 "
        "point in test accuracy",
        "the optical co-processor is simulated (ternarised error, complex Gaussian medium, camera bit depth and "
        "read noise), not LightOn's OPU",
        "BP baselines use PyTorch's default init; the reference zeroes the forward weights only for DFA/FA with "
        "tanh or sigmoid, as we do",
    ],
)
