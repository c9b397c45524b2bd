"""Hao, Huang, Feng & Wang (2020): supervised learning in an SNN with the symmetric STDP rule, run with the
protocol of the reference code (haoyz/sym-STDP-SNN ``src/train.cc``, ``src/model.h``, ``global.h``).

Network (:class:`~plasticity.spiking.symstdp.SymSTDPNetwork`): Poisson input (rate = pixel/8 Hz times an
intensity) -> conductance-LIF excitatory layer with an adaptive threshold <-> a separate inhibitory population
(E->I one-to-one, I->E to all other excitatory neurons) -> classification layer. Images are shown one at a
time for 350 ms followed by 150 ms of rest; the input weights are normalised before each image; an image that
draws fewer than 5 excitatory spikes is shown again with the intensity raised by one (32 Hz), up to 32.
During training the class layer is a Poisson teacher (200 Hz on the label's neuron) and both projections
learn with the additive symmetric STDP rule; at test time it integrates the excitatory spikes and the class
with most spikes is the answer (the paper's supervised readout); the reference's unsupervised readout (label
each neuron by its strongest class on the training responses) is reported too.

Training is layer by layer, as the reference's committed ``global.h`` runs it (``FIXED_HIDDEN_LAYER``): the
excitatory layer learns first (``epochs`` passes; the class layer learns alongside, which does not feed back),
then its input weights and threshold are frozen (``model.cc`` ``p_Exc_fixed``), the E->C weights are redrawn
(``train.cc`` ``reset_Cla_para``) and only they learn, under the teacher, for ``cla_epochs`` passes.
``cla_epochs: 0`` is the simultaneous variant (both layers learn together from the first image, the reference
without ``FIXED_HIDDEN_LAYER``).

Measured: test accuracy of both readouts, the same network trained one image at a time (``batch_size`` 1)
against the batched variant (several images in flight, one summed weight update per presentation), spikes and
intensity per image, wall time. Hyper-parameters are the reference's for the network size; validation
accuracy is on images held out of the training set.

Deviations from the paper and its code (also in ``STUDY.deviations``):

* weight and threshold updates of one presentation are applied at its end, not at every spike (the images
  are normalised before each presentation anyway, so only the within-image feedback is lost);
* the batched variant shares one summed update between the images in flight (``batch_size`` > 1);
* the 150 ms rest is solved in closed form (conductances and traces decay to ~0, the membrane relaxes);
* the STDP window is cut at 5 tau (exp(-5) < 1 %); the trace jump counts once per spike (in the GeNN code
  every synapse adds to the shared trace, with GPU races, so the effective jump is not defined);
* input spikes are drawn as Poisson counts with uniform bins, so a pixel may spike twice in one bin;
* smoke runs use dt = 1 ms (reference, small, cpu and paper 0.5 ms); small/cpu use fewer images and epochs than
  the reference's 20 x 60k;
* cpu-fashion and cpu-fashionnorm run Fashion-MNIST with the reference's 400-neuron MNIST constants (the public
  code has no Fashion-MNIST set), so they test "does not collapse", not the paper's Fashion-MNIST number;
  cpu-fashionnorm rescales each image to mean pixel 15 as the reference's Fashion-MNIST preprocessing script
  does, cpu-fashion feeds raw images;
* layer by layer, the reference loads a hidden layer trained in an earlier run (``./weights/mnist_400``, its
  training length unstated) and trains E->C for 20 x 60k images; we train both stages in one run, for
  ``epochs`` and ``cla_epochs`` passes;
* the test set is read once, after training; the reference scores the whole test set every 10 000 training
  images (``train.cc``) and plots that curve, so its number may come from the middle of training; cpu-select
  does the analogue on validation (the best E->C weights of checkpoints every ``cla_select_every`` images over
  two class-layer epochs), its class-layer pass split into chunks of that size.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from ..data import load_dataset
from ..spiking.symstdp import (
    SymSTDPConfig,
    SymSTDPNetwork,
    assign_labels,
    assignment_predict,
    run_pass,
)
from .base import Study, StudyContext
from .checks import Check, accuracy_se, paper

# our floor (x chance) the one-image-at-a-time run must clear before the batched run is compared with it
LEARNED_FACTOR = 2.0

# keys of a scale that are SymSTDPConfig fields (the rest steer the run)
_NET_KEYS = ("dt", "theta_plus", "tau_theta", "nu_pe", "nu_ec", "g_max_ec", "norm_pe", "norm_ec", "v_thresh_exc",
             "image_mean", "intensity_init", "max_intensity", "min_spikes")


def net_config(cfg: dict[str, Any], n_in: int, n_classes: int) -> SymSTDPConfig:
    """The network constants of a study config (reference values for every key the config leaves out;
    ``norm_ec`` 0 = the reference's 0.1 * n_exc * g_max_ec, ``image_mean`` 0 = no per-image normalisation)."""
    kw = {k: cfg[k] for k in _NET_KEYS if k in cfg}
    for k in ("norm_ec", "image_mean"):
        if not kw.get(k):
            kw[k] = None
    return SymSTDPConfig(n_in=n_in, n_exc=cfg["n_exc"], n_cla=n_classes, **kw)


def _split(n: int, n_train: int, n_val: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded split of the training set into training images and held-out validation images."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1000 + seed))
    n_val = min(n_val, n - 1)
    n_train = n - n_val if n_train <= 0 else min(n_train, n - n_val)
    return perm[:n_train], perm[n - n_val:] if n_val else perm[:0]


class _Selection:
    """The class-layer stage's length chosen on validation: the E->C weights are scored on the validation images
    after every ``cla_select_every`` training images and the best are kept (ties: the earlier). The reference
    scores the *test* set every 10 000 images instead (train.cc) and plots that curve."""

    def __init__(self, net: SymSTDPNetwork, val: tuple[torch.Tensor, torch.Tensor], cfg: dict, seed: int) -> None:
        self.net, self.val, self.cfg = net, val, cfg
        # its own Poisson stream, so that training draws the same spikes as without selection
        self.g = torch.Generator(device=val[0].device).manual_seed(seed + 7_000_003)
        self.curve: list[tuple[int, float]] = []
        self.best: tuple[float, int, torch.Tensor] | None = None

    def score(self, images: int, ctx: StudyContext) -> None:
        p = run_pass(self.net, self.val[0], None, self.cfg["eval_batch"], self.g, compiled=self.cfg["compiled"])
        acc = float((p.cla_counts.argmax(1) == self.val[1]).float().mean())
        self.curve.append((images, acc))
        if self.best is None or acc > self.best[0]:
            self.best = (acc, images, self.net.w_ec.clone())
        ctx.log(f"[symstdp] class layer after {images} images: validation accuracy {acc:.4f}")

    def restore(self) -> dict[str, Any]:
        assert self.best is not None
        self.net.w_ec.copy_(self.best[2])
        return {"cla_selection_curve": [list(c) for c in self.curve], "cla_selected_images": self.best[1]}


def train_and_eval(net: SymSTDPNetwork, x: torch.Tensor, y: torch.Tensor, evals: dict[str, tuple], cfg: dict,
                   batch_size: int, seed: int, ctx: StudyContext) -> dict[str, Any]:
    """Train ``epochs`` passes over (x, y), then score each evaluation set with both readouts."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    shows = 0
    for ep in range(cfg["epochs"]):
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed * 1000 + ep)).to(x.device)
        r = run_pass(net, x[order], y[order], batch_size, g, log=ctx.log, log_every=cfg["log_every"],
                     compiled=cfg["compiled"])
        shows += r.presentations
        ctx.log(f"[symstdp] epoch {ep + 1}/{cfg['epochs']}: {r.seconds:.0f} s, "
                f"{r.exc_counts.sum(1).mean():.1f} exc spikes/image, {r.presentations} presentations")
        last_counts, last_y = r.exc_counts, y[order]
    if cfg["cla_epochs"]:
        # layer-by-layer (the reference's committed FIXED_HIDDEN_LAYER mode): the trained hidden layer and its
        # threshold are frozen, the E->C weights are redrawn (reset_Cla_para) and learn alone under the teacher
        net.hidden_plastic = False
        net.reset_classifier(seed + 1)
        every = cfg.get("cla_select_every", 0)
        select = _Selection(net, evals["val"], cfg, seed) if every and "val" in evals else None
        for ep in range(cfg["cla_epochs"]):
            order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed * 1000 + 500 + ep))
            order = order.to(x.device)
            counts, seconds = [], 0.0
            chunk = every or x.shape[0]
            for start in range(0, x.shape[0], chunk):
                part = order[start:start + chunk]
                r = run_pass(net, x[part], y[part], batch_size, g, log=ctx.log, log_every=cfg["log_every"],
                             compiled=cfg["compiled"])
                shows, seconds = shows + r.presentations, seconds + r.seconds
                counts.append(r.exc_counts)
                if select is not None:
                    select.score(ep * x.shape[0] + start + part.numel(), ctx)
            ctx.log(f"[symstdp] class-layer epoch {ep + 1}/{cfg['cla_epochs']} (hidden layer fixed): "
                    f"{seconds:.0f} s")
            last_counts, last_y = torch.cat(counts), y[order]
        if select is not None:
            out.update(select.restore())
        net.hidden_plastic = True
    out["train_seconds"] = time.perf_counter() - t0
    out["train_presentations_per_image"] = shows / max(1, x.shape[0] * (cfg["epochs"] + cfg["cla_epochs"]))
    n_cla = net.cfg.n_cla
    assignments = assign_labels(last_counts, last_y, n_cla)
    out["neurons_unassigned"] = int((assignments < 0).sum())
    for name, (xe, ye) in evals.items():
        t1 = time.perf_counter()
        p = run_pass(net, xe, None, cfg["eval_batch"], g, compiled=cfg["compiled"])
        out[f"{name}_accuracy"] = float((p.cla_counts.argmax(1) == ye).float().mean())
        out[f"{name}_assignment_accuracy"] = float((assignment_predict(p.exc_counts, assignments, n_cla) == ye)
                                                   .float().mean())
        out[f"{name}_exc_spikes_per_image"] = float(p.exc_counts.sum(1).mean())
        out[f"{name}_mean_intensity"] = float(p.intensity.mean())
        out[f"{name}_seconds"] = time.perf_counter() - t1
        out[f"{name}_n"] = int(ye.numel())
    return out


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    data = load_dataset(cfg["dataset"])
    x_all, y_all = data.x_train.flatten(1), data.y_train
    tr, va = _split(x_all.shape[0], cfg["n_train"], cfg["n_val"], ctx.seed)
    dev = ctx.device
    x, y = x_all[tr].to(dev), y_all[tr].to(dev)
    n_test = cfg["n_test"] or data.x_test.shape[0]
    evals: dict[str, tuple] = {"val": (x_all[va].to(dev), y_all[va].to(dev))} if va.numel() else {}
    if cfg["read_test"]:
        evals["test"] = (data.x_test[:n_test].flatten(1).to(dev), data.y_test[:n_test].to(dev))
    ncfg = net_config(cfg, x.shape[1], data.n_classes)
    res: dict[str, Any] = {"dataset": cfg["dataset"], "n_exc": cfg["n_exc"], "epochs": cfg["epochs"],
                           "cla_epochs": cfg["cla_epochs"],
                           "n_train": int(x.shape[0]), "n_val": int(va.numel()), "batch_size": cfg["batch_size"],
                           "dt": ncfg.dt, "chance": 1.0 / data.n_classes, "threads": torch.get_num_threads()}
    t0 = time.perf_counter()
    net = SymSTDPNetwork(ncfg, seed=ctx.seed).to(dev)
    res.update(train_and_eval(net, x, y, evals, cfg, cfg["batch_size"], ctx.seed, ctx))
    res["wall_seconds"] = time.perf_counter() - t0
    ctx.log(f"[symstdp] {cfg['dataset']} {cfg['n_exc']} neurons: " + ", ".join(
        f"{k} {res[k]:.4f}" for k in res if k.endswith("accuracy")))
    if cfg["compare_n"]:
        # the same initial network trained on the same first images one at a time and batched
        n = min(cfg["compare_n"], x.shape[0])
        ev = {"compare": evals["val"] if "val" in evals else evals["test"]}
        ccfg = {**cfg, "epochs": 1, "cla_epochs": 0}
        for name, bs in (("online", 1), ("batched", cfg["batch_size"])):
            m = train_and_eval(SymSTDPNetwork(ncfg, seed=ctx.seed).to(dev), x[:n], y[:n], ev, ccfg, bs, ctx.seed,
                               ctx)
            res[f"{name}_accuracy"] = m["compare_accuracy"]
            res[f"{name}_assignment_accuracy"] = m["compare_assignment_accuracy"]
            res[f"{name}_train_seconds"] = m["train_seconds"]
            ctx.log(f"[symstdp] {name} (batch {bs}) on {n} images: accuracy {m['compare_accuracy']:.4f}, "
                    f"training {m['train_seconds']:.0f} s")
        res["compare_n_train"], res["compare_n_eval"] = n, int(ev["compare"][1].numel())
    _figure(net, ctx)
    return res


def _figure(net: SymSTDPNetwork, ctx: StudyContext) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = math.isqrt(net.cfg.n_in)
    if side * side != net.cfg.n_in:
        return
    k = min(64, net.cfg.n_exc)
    cols = 8
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows))
    w = net.w_pe.detach().cpu().t()[:k]
    for i, a in enumerate(axes.flat):
        a.axis("off")
        if i < k:
            a.imshow(w[i].view(side, side), cmap="hot")
    fig.suptitle("receptive fields (input -> excitatory weights)")
    fig.savefig(ctx.figure_path("receptive_fields.png"), dpi=60)
    plt.close(fig)


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    split = "test" if "test_accuracy" in metrics else "val"
    acc = float(metrics[f"{split}_accuracy"])
    chance = float(metrics["chance"])
    stages = (f"{metrics['epochs']} epoch(s), then {metrics['cla_epochs']} class-layer epoch(s) on the fixed hidden "
              f"layer" if metrics.get("cla_epochs") else f"{metrics['epochs']} epoch(s), both layers together")
    if "cla_selected_images" in metrics:
        stages += f" (class layer kept after {metrics['cla_selected_images']} images, chosen on validation)"
    where = (f"{metrics['dataset']}, {metrics['n_exc']} excitatory neurons, {metrics['n_train']} training images x "
             f"{stages}, batch {metrics['batch_size']}, dt {metrics['dt']} ms; {split} split")
    out = [Check(f"{metrics['dataset']} {split} accuracy of the class layer, x chance", acc / chance, ">",
                 paper("far_above_chance_factor"), detail=where)]
    se = accuracy_se(acc, int(metrics[f"{split}_n"]))  # evaluation noise of the accuracy
    if metrics["dataset"] == "mnist" and metrics["n_exc"] == 400:
        out.append(Check("MNIST accuracy at 400 excitatory neurons", acc, ">=", paper("mnist_400_target"), se=se,
                         detail=where))
    if metrics["dataset"] == "mnist" and metrics["n_exc"] == 6400:
        out.append(Check("MNIST accuracy at 6400 excitatory neurons", acc, "~", paper("mnist_6400"), tol=0.01,
                         se=se, detail=where))
    if "online_accuracy" in metrics:
        on, ba = float(metrics["online_accuracy"]), float(metrics["batched_accuracy"])
        n = int(metrics["compare_n_eval"])
        # our criterion for "the same accuracy": within 3 binomial standard errors of a difference of two
        # accuracies on n images, and never looser than 3 points
        se = 100 * math.sqrt((max(on * (1 - on), 0.01) + max(ba * (1 - ba), 0.01)) / n)
        out.append(Check("batched minus one-image-at-a-time accuracy, points", 100 * (ba - on), "~", 0.0,
                         tol=max(3.0, 3 * se), reference=on, floor=LEARNED_FACTOR * chance,
                         reference_name="one-image-at-a-time accuracy",
                         detail=f"{metrics['compare_n_train']} training images, {n} evaluation images; "
                                f"online {on:.4f}, batched (batch {metrics['batch_size']}) {ba:.4f}"))
    return out


_BASE: dict[str, Any] = {"dataset": "mnist", "n_exc": 400, "epochs": 1, "cla_epochs": 1, "batch_size": 50,
                         "eval_batch": 100,
                         "n_train": 0, "n_val": 5000, "n_test": 0, "read_test": True, "compare_n": 0,
                         "dt": 1.0, "compiled": False, "threads": 1, "log_every": 10000,
                         "intensity_init": 2.0, "max_intensity": 32.0, "min_spikes": 5, "g_max_ec": 8.0,
                         "norm_pe": 78.4, "norm_ec": 0.0, "v_thresh_exc": -52.0, "image_mean": 0.0}

# reference constants per size (model.h): 100/400 neurons on MNIST
_REF_400 = {"theta_plus": 0.07, "tau_theta": 6e6, "nu_pe": 0.005, "nu_ec": 0.04}

# the CPU target: the reference's 400-neuron constants and dt 0.5 ms, one epoch over the training set (5000
# held out for validation), batch 100 for CPU time, test set read once
_CPU = {**_BASE, **_REF_400, "n_exc": 400, "batch_size": 100, "n_val": 5000, "read_test": True, "compare_n": 0,
        "dt": 0.5}

STUDY = Study(
    name="symstdp",
    title="A biologically plausible supervised learning method for spiking neural networks using the "
          "symmetric STDP rule",
    authors="Hao, Huang, Feng & Wang",
    year=2020,
    url="https://arxiv.org/abs/1812.06574",
    claim="Symmetric STDP with weight normalisation, an adaptive threshold, lateral inhibition and a Poisson "
          "teacher on the class layer learns supervised classification in a two-layer SNN (MNIST 96.73 % at "
          "6400 excitatory neurons).",
    scales={
        "smoke": {**_BASE, **_REF_400, "n_exc": 20, "n_train": 40, "n_val": 20, "read_test": False,
                  "compare_n": 6, "batch_size": 20, "eval_batch": 20},
        # ~2 min on one CPU core: 100 neurons, 1500 images, batched vs online on the first 500 images (at dt 0.5 ms,
        # 150 images left the online reference near chance, 16-24 %, so the comparison said nothing)
        "small": {**_BASE, **_REF_400, "n_exc": 100, "n_train": 1500, "n_val": 500, "read_test": False,
                  "compare_n": 500, "batch_size": 50, "dt": 0.5},
        # the CPU target (_CPU). dt 1 ms cost ~3 points of validation accuracy (seed 0, 10k images: 83.1 vs
        # 86.0 %) and doubled the excitatory spike count
        "cpu": _CPU,
        # the same protocol on Fashion-MNIST (the reference's 400-neuron MNIST constants, not re-tuned): the issue's
        # "does not collapse" number. cpu-fashionnorm adds the reference's Fashion-MNIST preprocessing
        # (scripts/generate_normalized_mnist.m: every image rescaled to mean pixel value 15); cpu-fashion has none
        "cpu-fashion": {**_CPU, "dataset": "fashion-mnist"},
        "cpu-fashionnorm": {**_CPU, "dataset": "fashion-mnist", "image_mean": 15.0},
        # the cpu protocol with two class-layer epochs whose length is chosen on the validation images (scored every
        # 11 000 training images, the best E->C weights kept), in place of the reference's test-set curve
        "cpu-select": {**_CPU, "cla_epochs": 2, "cla_select_every": 11000},
        # the reference configuration for 6400 neurons (model.h), one image at a time as the reference runs
        "paper": {**_BASE, "n_exc": 6400, "epochs": 15, "cla_epochs": 15, "batch_size": 1, "eval_batch": 256, "n_val": 0,
                  "dt": 0.5, "compiled": True, "threads": 0, "theta_plus": 0.05, "tau_theta": 2e7,
                  "nu_pe": 0.01, "nu_ec": 0.04},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"mnist_6400": 0.9673, "mnist_400_target": 0.90, "far_above_chance_factor": 5.0,
                  "note": "96.73 % is the paper's MNIST number at 6400 excitatory neurons; 0.90 at 400 is the "
                          "issue's target (unsupervised Diehl & Cook: ~87 % at 400); 5x chance is our criterion "
                          "for 'learns' / 'does not collapse' (Fashion-MNIST: dataset=fashion-mnist)"},
    tuned_seeds=(0,),
    limits={"dt": (1e-3, 5.0), "threads": (0, 64), "image_mean": (0.0, 255.0), "norm_ec": (0.0, None), "intensity_init": (1e-6, None),
            "n_val": (0, 59999), "compare_n": (0, None), "cla_epochs": (0, None),
            "cla_select_every": (0, None)},
    deviations=[
        "weight and threshold updates of a presentation are applied at its end, not at each spike (weights are "
        "normalised before every image anyway; only the within-image feedback of learning is lost)",
        "batch_size > 1: the images in flight share one summed update per presentation (the reference shows one "
        "image at a time; batch_size=1 reproduces that, and the study compares the two)",
        "the 150 ms rest is solved in closed form (conductances and traces ~0 after it, membranes relax towards "
        "rest) instead of being simulated",
        "STDP pairs further apart than 5 tau (exp(-5) < 1 %) are skipped; the trace jump counts once per spike "
        "(in the GeNN code every synapse of a population adds a_plus to the shared neuron trace, with GPU races, "
        "so the reference's effective jump is undefined)",
        "input spikes: Poisson counts placed in uniform bins (a pixel can spike twice in one bin; the reference "
        "has a one-step dead time)",
        "smoke runs use dt = 1 ms instead of 0.5 ms (small, cpu and paper: 0.5 ms; at 1 ms the 400-neuron net lost "
        "~3 points of validation accuracy on seed 0); small/cpu run one epoch per stage instead of 20 x 60k (small: "
        "1500 images, 100 neurons; cpu: 55k images at 400 neurons, batch 100); the paper scale runs 15 epochs per "
        "stage",
        "cpu-fashion and cpu-fashionnorm run Fashion-MNIST with the reference's 400-neuron MNIST constants (model.h "
        "has one set; the paper's Fashion-MNIST constants are not in the public code), so they test 'does not "
        "collapse', not the paper's Fashion-MNIST number; cpu-fashionnorm rescales every image to mean pixel 15 as "
        "the reference's scripts/generate_normalized_mnist.m does for Fashion-MNIST (its C++ reads the plain file "
        "names, so which files the published run read is not certain); cpu-fashion feeds raw images",
        "layer-by-layer training: the reference loads a hidden layer trained in an earlier run (./weights/mnist_400, "
        "its training length unstated) and trains E->C alone for 20 x 60k images; we train the hidden layer for "
        "`epochs` passes and then E->C alone for `cla_epochs` passes in one run (cla_epochs 0 = the simultaneous "
        "variant, the reference without FIXED_HIDDEN_LAYER)",
        "the test set is read once, after training; the reference scores the whole test set every 10 000 training "
        "images (train.cc) and plots that curve, so a number read off it may come from the middle of training "
        "(on our cpu constants validation accuracy peaks near 10k images: benchmarks/symstdp_batch.py)",
        "cpu-select: the class-layer stage keeps the E->C weights of the best validation score, checked every "
        "cla_select_every images (the reference scores the test set every 10 000 images and plots that curve); "
        "its training is split into chunks of that size, so a few batch slots run empty at each chunk's end",
        "Fashion-MNIST uses the reference's per-image mean normalisation only when image_mean is set "
        "(cpu-fashionnorm: 15, the value in the reference's latest generate_normalized_mnist.m)",
    ],
)
