"""The main job: train several rules on the same model, data and seed, and compare them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..analysis.alignment import update_alignment
from ..data.registry import load_dataset
from ..data.task import TaskData
from ..errors import ConfigError, check_choice, check_range
from ..models import MLP, ConvNet
from ..rules.registry import make_rule
from ..utils import atomic_write_json, resolve_device, seed_everything
from .optim import known_optimizers, make_optimizer
from .trainer import Callback, Trainer

MODELS = ("mlp", "conv")


class AlignmentProbe(Callback):
    """After each epoch, the mean per-layer angle between the rule's update and backprop's on a fixed batch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        angles = update_alignment(trainer.model, trainer.rule, self.x, self.y)
        record["alignment_deg"] = sum(angles.values()) / len(angles)
        record.update({f"alignment_deg/{k}": v for k, v in angles.items()})


class _Schedule(Callback):
    def __init__(self, sched: torch.optim.lr_scheduler.LRScheduler) -> None:
        self.sched = sched

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        self.sched.step()


def build_model(kind: str, data: TaskData, hidden: Sequence[int], activation: str = "relu") -> torch.nn.Module:
    """An MLP ``[features, *hidden, outputs]`` or a ConvNet for ``data``."""
    check_choice("model", kind, MODELS)
    if kind == "mlp":
        return MLP([data.n_features, *hidden, data.n_outputs], activation=activation)
    if len(data.input_shape) != 3:
        raise ConfigError(f"model 'conv' needs image data (C, H, W); dataset {data.name!r} has shape {data.input_shape}")
    return ConvNet(data.input_shape, channels=(16, 32), hidden=hidden[0] if hidden else 0, n_classes=data.n_outputs)


def check_compare(rules: Sequence[str], dataset: str = "digits", epochs: int = 30, hidden: Sequence[int] = (256, 256),
                  model: str = "mlp", batch_size: int = 32, lr: float = 0.02, optimizer: str = "sgd", seed: int = 0,
                  device: str = "cpu", data_dir: str | None = None, activation: str = "relu") -> TaskData:
    """Validate every argument of ``compare_rules`` before any training: names, ranges, the data files (md5) and
    that the model builds for the data (on the meta device). Returns the loaded data."""
    rules = list(rules)
    if not rules:
        raise ConfigError("rules is empty; give at least one, e.g. --rules bp,fa")
    for r in rules:
        make_rule(r)
    if len(set(rules)) != len(rules):
        raise ConfigError(f"rules {','.join(rules)!r} repeat a name; give each rule once")
    check_choice("optimizer", optimizer, known_optimizers())
    check_choice("model", model, MODELS)
    check_range("lr", lr, 0.0, 1e3, low_inclusive=False)
    check_range("epochs", epochs, 1, 100_000)
    check_range("batch_size", batch_size, 1)
    check_range("seed", seed, 0, 2**31 - 1)
    if not list(hidden) and model == "conv":
        raise ConfigError("model 'conv' needs one hidden width, e.g. --hidden 128")
    for h in hidden:
        check_range("hidden width", h, 1, 1_000_000)
    resolve_device(device)
    data = load_dataset(dataset, data_dir=data_dir)
    with torch.device("meta"):
        build_model(model, data, hidden, activation)
    return data


def compare_rules(rules: Sequence[str], dataset: str = "digits", epochs: int = 30, hidden: Sequence[int] = (256, 256),
                  model: str = "mlp", batch_size: int = 32, lr: float = 0.02, optimizer: str = "sgd",
                  momentum: float = 0.9, seed: int = 0, device: str = "cpu", data_dir: str | None = None,
                  out: str | Path | None = None, progress: Any = None, activation: str = "relu",
                  rule_lr: dict[str, float] | None = None,
                  rule_kwargs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Train each rule from the same initial weights; return per-rule summary and histories.

    ``rule_lr`` overrides ``lr`` for named rules (rules differ in their effective step size, e.g. DFA's
    feedback scale), so a comparison can use each rule's tuned learning rate. ``rule_kwargs`` passes
    constructor arguments to named rules (e.g. ``{"dfa": {"feedback_scale": 2.0}}``).
    """
    rule_kwargs = dict(rule_kwargs or {})
    for r in rule_kwargs:
        check_choice("rule_kwargs key", r, list(rules))
    rule_lr = dict(rule_lr or {})
    for r, v in rule_lr.items():
        check_choice("rule_lr key", r, list(rules))
        check_range(f"rule_lr[{r}]", v, 0.0, low_inclusive=False)
    rules = list(rules)
    data = check_compare(rules, dataset=dataset, epochs=epochs, hidden=hidden, model=model, batch_size=batch_size,
                         lr=lr, optimizer=optimizer, seed=seed, device=device, data_dir=data_dir, activation=activation)
    if out is not None:
        from .paths import check_writable_dir

        check_writable_dir(out, "output folder")
    dev = resolve_device(device)
    probe = data.to(dev)
    xb, yb = probe.x_test[:256], probe.y_test[:256]
    results: dict[str, Any] = {"dataset": dataset, "model": model, "hidden": list(hidden), "epochs": epochs,
                               "batch_size": batch_size, "lr": lr, "optimizer": optimizer, "seed": seed,
                               "activation": activation, "rule_lr": rule_lr, "rule_kwargs": rule_kwargs, "device": str(dev), "rules": {}}
    for name in rules:
        seed_everything(seed)
        net = build_model(model, data, hidden, activation)
        rule = make_rule(name, seed=seed, **rule_kwargs.get(name, {}))
        params = net.parameters()
        lr_r = rule_lr.get(name, lr)
        # synapse devices have no momentum; every other optimizer/geometry takes the comparison's
        opt = make_optimizer(optimizer, params, lr=lr_r, momentum=0.0 if optimizer == "device" else momentum)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        callbacks: list[Callback] = [_Schedule(sched), AlignmentProbe(xb, yb)]
        if progress is not None:
            callbacks.append(progress(name, epochs))
        t0 = time.perf_counter()
        trainer = Trainer(net, rule, opt, data, epochs=epochs, batch_size=batch_size, device=dev, seed=seed,
                          callbacks=callbacks)
        hist = trainer.fit()
        last = hist[-1]
        results["rules"][name] = {
            "test_accuracy": last.get("test_accuracy"),
            "lr": lr_r,
            "final_train_loss": last["train_loss"],
            "test_loss": last["test_loss"],
            "alignment_deg": last["alignment_deg"] if name != "bp" else 0.0,
            "ms_per_step": sum(h["ms_per_step"] for h in hist) / len(hist),
            "seconds": time.perf_counter() - t0,
            "history": hist,
        }
    if out is not None:
        write_compare_report(results, Path(out))
    return results


def record_compare(store: Any, results: dict[str, Any], out: str | Path | None = None) -> str:
    """Record a comparison in the run store: one finished run per rule, grouped like a sweep (so ``runs list
    --sweep ID`` and ``report ID`` show it). Returns the group id."""
    import uuid

    group = f"compare-{results['dataset']}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    spec = {k: v for k, v in results.items() if k != "rules"}
    store.upsert_sweep(group, f"compare {results['dataset']}", spec)
    for name, r in results["rules"].items():
        rid = f"{group}-{name}"
        cfg = {**spec, "rule": {"name": name}, "lr": r["lr"]}
        store.create_run(rid, cfg, name=f"compare[{name}]", seed=int(results["seed"]), sweep_id=group)
        res = {k: v for k, v in r.items() if k != "history"}
        if r["history"]:
            res["train_loss"] = r["history"][-1]["train_loss"]
        store.finish_run(rid, "finished", results=res, history=r["history"], seconds=r["seconds"],
                         artefacts={"results": str(Path(out) / "results.json")} if out is not None else None)
    return group


def write_compare_report(results: dict[str, Any], out: Path) -> None:
    """results.json and learning_curves.png (loss, test accuracy, alignment angle per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", results)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for i, (name, r) in enumerate(results["rules"].items()):
        ep = [h["epoch"] for h in r["history"]]
        style = {"label": name, "color": f"C{i}"}
        axes[0].plot(ep, [h["train_loss"] for h in r["history"]], **style)
        if r["test_accuracy"] is not None:
            axes[1].plot(ep, [100 * h["test_accuracy"] for h in r["history"]], **style)
        if name != "bp":
            axes[2].plot(ep, [h["alignment_deg"] for h in r["history"]], **style)
    axes[0].set(xlabel="epoch", ylabel="train loss", yscale="log", title="training loss")
    axes[1].set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    axes[2].set(xlabel="epoch", ylabel="degrees", title="update angle to backprop")
    axes[2].axhline(90, color="grey", lw=0.8, ls=":")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(f"{results['dataset']} · {results['model']} {results['hidden']} · seed {results['seed']}")
    fig.tight_layout()
    tmp = out / ".learning_curves.tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out / "learning_curves.png")
