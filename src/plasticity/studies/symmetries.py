"""Hidden symmetries of ReLU networks (Grigsby, Lindsey & Rolnick, ICML 2023).

For architectures ``(n0, w, ..., w, 1)`` draw random initialisations and estimate the functional dimension as
the rank of the parameter Jacobian over many inputs (``analysis.symmetries``). A draw has *no hidden
symmetries* when the rank reaches ``#params − #hidden neurons``. The paper reports that this probability falls
towards 0 with depth and rises towards 1 with width and input dimension; its experiments (Sec. 7, Fig. 6) use
``n0 = n1 = ... = n_{d-1}``, i.e. width and input dimension grow together, and so does our ``width`` sweep.
Two more sweeps separate the factors: input dimension at a fixed width (``n0 <= width``, as Theorem 1 needs)
and width at a fixed input dimension. The last one is not a claim of the paper and we find it does not help:
a wide layer fed a low-dimensional input has more stably unactivated neurons over the input's image.
We also check the detector itself: a net with a dead neuron (zero incoming weights, negative bias) must lose
rank, and generic one-hidden-layer nets must reach the bound.

The batch rank is a lower bound on the rank over all of input space; deep and wide nets have small activation
regions, so more inputs can only raise it (the batch is ``inputs_per_dim`` rows per dimension of the bound).
Init: weights and biases ~ N(0, 2/fan_in) by default (``he_normal``); PyTorch's default init is ``torch``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch

from ..analysis.symmetries import bound_for_sizes, functional_dimension, sample_inputs
from ..errors import check_choice
from ..models import MLP
from .base import Study, StudyContext
from .checks import Check

INITS = ("torch", "he_normal")


def make_net(sizes: list[int], init: str, generator: torch.Generator) -> MLP:
    """An MLP with PyTorch's default init (``torch``) or weights and biases ~ N(0, 2/fan_in) (``he_normal``)."""
    check_choice("init", init, INITS)
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    net = MLP(sizes).double()
    if init == "he_normal":
        with torch.no_grad():
            for layer in net.layers:
                std = math.sqrt(2.0 / layer.in_features)
                layer.weight.normal_(0.0, std, generator=generator)
                layer.bias.normal_(0.0, std, generator=generator)
    return net


def _n_inputs(cfg: dict[str, Any], bound: int) -> int:
    """Batch size: ``inputs_per_dim`` Jacobian rows per dimension of the bound, at least ``min_inputs``."""
    return max(int(cfg["min_inputs"]), int(cfg["inputs_per_dim"]) * bound)


def _fraction_full(n0: int, width: int, depth: int, cfg: dict[str, Any], g: torch.Generator,
                   sweep: str) -> dict[str, Any]:
    sizes = [n0] + [width] * depth + [1]
    bound = bound_for_sizes(sizes)
    full, deficits = 0, []
    for _ in range(cfg["trials"]):
        net = make_net(sizes, cfg["init"], g)
        x = sample_inputs(_n_inputs(cfg, bound), n0, g, r_min=cfg["r_min"], r_max=cfg["r_max"])
        fd = functional_dimension(net, x)
        full += fd.deficit == 0
        deficits.append(fd.deficit)
    return {"sweep": sweep, "n0": n0, "width": width, "depth": depth, "bound": bound,
            "fraction_no_hidden": full / cfg["trials"], "mean_deficit": float(np.mean(deficits))}


def _architectures(cfg: dict[str, Any]) -> list[tuple[str, int, int]]:
    """``(sweep, n0, width)`` for the three sweeps; each is run at every depth.

    ``width``: the paper's architectures ``(n, n, ..., n, 1)`` -- input dimension equal to the width (Sec. 7);
    ``input_dim``: input dimension ``n0 <= fixed_width`` at a fixed width (Theorem 1 needs no layer narrower
    than the input); ``width_only``: width grows at a fixed input dimension (not a claim of the paper; reported).
    """
    archs = [("width", w, w) for w in cfg["widths"]]
    archs += [("input_dim", n0, cfg["fixed_width"]) for n0 in cfg["input_dims"]]
    archs += [("width_only", cfg["fixed_input_dim"], w) for w in cfg["widths"] if w >= cfg["fixed_input_dim"]]
    return archs


def _detector_checks(cfg: dict[str, Any], g: torch.Generator) -> dict[str, Any]:
    """Generic one-hidden-layer nets should reach the bound; the same nets with one dead neuron should not.

    (Deeper random nets can have hidden symmetries with positive probability, which is the study's point.)
    """
    sizes = [3, 8, 1]
    generic, dead = [], []
    for _ in range(cfg["detector_trials"]):
        net = make_net(sizes, cfg["init"], g)
        x = sample_inputs(_n_inputs(cfg, bound_for_sizes(sizes)), 3, g, r_min=cfg["r_min"], r_max=cfg["r_max"])
        generic.append(functional_dimension(net, x).deficit)
        with torch.no_grad():  # neuron 0 of layer 1 never fires: its in- and out-weights stop mattering
            net.layers[0].weight[0] = 0.0
            net.layers[0].bias[0] = -1.0
        dead.append(functional_dimension(net, x).deficit)
    return {"detector_sizes": sizes, "generic_deficits": generic, "dead_neuron_deficits": dead}


def _trend(rows: list[dict[str, Any]], sweep: str, key: str) -> dict[str, float]:
    """Mean fraction at each value of ``key`` within one sweep (averaged over depths / the other axis)."""
    rows = [r for r in rows if r["sweep"] == sweep]
    vals = sorted({r[key] for r in rows})
    return {str(v): float(np.mean([r["fraction_no_hidden"] for r in rows if r[key] == v])) for v in vals}


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(ctx.seed)
    rows, done = [], {}
    for (sweep, n0, width), depth in itertools.product(_architectures(cfg), cfg["depths"]):
        if (n0, width, depth) in done:  # same architecture in two sweeps: measured once
            rows.append({**done[(n0, width, depth)], "sweep": sweep})
            continue
        rows.append(_fraction_full(n0, width, depth, cfg, g, sweep))
        done[(n0, width, depth)] = rows[-1]
        r = rows[-1]
        ctx.log(f"{sweep}: n0={n0} width={width} depth={depth}: no hidden symmetries in "
                f"{r['fraction_no_hidden']:.2f} (mean deficit {r['mean_deficit']:.2f} of bound {r['bound']})")
    metrics: dict[str, Any] = {
        "grid": rows, "by_depth": _trend(rows, "width", "depth"), "by_width": _trend(rows, "width", "width"),
        "by_input_dim": _trend(rows, "input_dim", "n0"), "by_width_fixed_input": _trend(rows, "width_only", "width")}
    metrics.update(_detector_checks(cfg, g))
    _figure(metrics, cfg, ctx)
    return metrics


def _figure(m: dict[str, Any], cfg: dict[str, Any], ctx: StudyContext) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("width", "width", "n0 = width (paper's (n, ..., n, 1))", "width"),
              ("input_dim", "n0", f"width {cfg['fixed_width']}, input dim varies", "input dim"),
              ("width_only", "width", f"input dim {cfg['fixed_input_dim']}, width varies", "width")]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    for ax, (sweep, key, title, label) in zip(axes, panels, strict=True):
        rows = [r for r in m["grid"] if r["sweep"] == sweep]
        for v in sorted({r[key] for r in rows}):
            pts = sorted((r["depth"], r["fraction_no_hidden"]) for r in rows if r[key] == v)
            ax.plot(*zip(*pts, strict=True), "o-", label=f"{label} {v}")
        ax.set(xlabel="depth (hidden layers)", ylabel="P(no hidden symmetries)", title=title, ylim=(-0.05, 1.05))
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{cfg['trials']} inits per point, max({cfg['min_inputs']}, {cfg['inputs_per_dim']}·bound) inputs, "
                 f"init={cfg['init']}", fontsize=8)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("fraction_no_hidden_symmetries.png"), dpi=110)
    plt.close(fig)


def _ends(trend: dict[str, float]) -> tuple[float, float]:
    keys = sorted(trend, key=float)
    return trend[keys[0]], trend[keys[-1]]


def checks(m: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    d_lo, d_hi = _ends(m["by_depth"])
    w_lo, w_hi = _ends(m["by_width"])
    out = [
        Check("a net with a dead neuron is detected (min rank deficit over draws)",
              float(min(m["dead_neuron_deficits"])), ">", 0.0,
              detail=f"sizes {m['detector_sizes']}, deficits {m['dead_neuron_deficits']}"),
        Check("the same generic nets reach #params - #hidden (max deficit)", float(max(m["generic_deficits"])),
              "~", 0.0, detail=f"deficits {m['generic_deficits']}"),
        Check("P(no hidden symmetries) falls with depth (shallowest - deepest)", d_lo - d_hi, ">", 0.0,
              detail=f"by depth {m['by_depth']}"),
        Check("P(no hidden symmetries) rises with width, input dim = width (widest - narrowest)", w_hi - w_lo,
              ">", 0.0, detail=f"by width {m['by_width']}; at a fixed input dim {cfg['fixed_input_dim']} "
                               f"(not a paper claim): {m['by_width_fixed_input']}"),
    ]
    if len(m["by_input_dim"]) > 1:
        i_lo, i_hi = _ends(m["by_input_dim"])
        out.append(Check(f"P(no hidden symmetries) rises with input dimension at width {cfg['fixed_width']} "
                         "(largest - smallest)", i_hi - i_lo, ">", 0.0, detail=f"by input dim {m['by_input_dim']}"))
    return out


_BASE = {"init": "he_normal", "r_min": 1e-2, "r_max": 1e4}
STUDY = Study(
    name="symmetries",
    title="Hidden symmetries of ReLU networks",
    authors="J. E. Grigsby, K. Lindsey, D. Rolnick",
    year=2023,
    url="https://arxiv.org/abs/2306.06179",
    claim="The probability that a random ReLU net has no hidden symmetries (functional dimension = #params − "
          "#hidden neurons) falls towards 0 with depth and rises towards 1 with width and input dimension.",
    scales={
        "smoke": {**_BASE, "widths": [2, 6], "depths": [1, 3], "input_dims": [1, 4], "fixed_width": 4,
                  "fixed_input_dim": 2, "trials": 6, "min_inputs": 500, "inputs_per_dim": 20, "detector_trials": 2},
        "small": {**_BASE, "widths": [2, 3, 4, 5, 6, 8], "depths": [1, 2, 3, 4, 5], "input_dims": [1, 2, 4, 6],
                  "fixed_width": 6, "fixed_input_dim": 1, "trials": 32, "min_inputs": 1000, "inputs_per_dim": 40,
                  "detector_trials": 4},
        "paper": {**_BASE, "widths": [2, 3, 4, 5, 6, 8, 10, 15], "depths": [1, 2, 3, 4, 5, 6], "input_dims": [1, 2, 5, 10],
                  "fixed_width": 10, "fixed_input_dim": 1, "trials": 100, "min_inputs": 5000, "inputs_per_dim": 20,
                  "detector_trials": 16},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"falls_with_depth": True, "rises_with_width": True, "rises_with_input_dim": True},
    deviations=[
        "the functional dimension is the Jacobian rank over a finite batch of Gaussian inputs, a lower bound on "
        "the rank over input space (the paper's estimate also samples inputs)",
        "small uses 32 initialisations per architecture and widths up to 8; the paper uses 100 and widths to 15",
    ],
)
