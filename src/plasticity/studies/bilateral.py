"""Left/right brain motor control (2024): hemispheres trained with different losses specialise.

A 2-link planar arm (circuits/bilateral.py) is driven by feedback controllers trained by BPTT on a mix of
random reaches and perturbed holds. The "left" hemisphere minimises a smoothness/efficiency loss, the "right"
a positional-stability loss. Bilateral models: the two frozen specialists mixed without a callosum (fixed 1/2)
or through a callosal gate that reads both hemispheres; plus two jointly trained bodies (torques summed, each
hemisphere descending its own loss) without and with callosal coupling of the hidden layers.
Scores (lower is better): reach = smoothness/efficiency cost on reach episodes; hold = mean hand deviation (cm)
under torque perturbations.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from ..circuits.bilateral import (
    ArmParams,
    BilateralController,
    GatedBilateral,
    Hemisphere,
    make_episodes,
    rollout,
    task_scores,
    train_controller,
)
from .base import CheckResult, Study, StudyContext


def run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    p = ArmParams(max_torque=cfg["max_torque"])
    dev, steps, hid = ctx.device, cfg["steps"], cfg["hidden"]
    gen = torch.Generator(device=dev).manual_seed(ctx.seed)
    ev = torch.Generator(device=dev).manual_seed(ctx.seed + 10_000)
    ep_r = make_episodes("reach", cfg["eval_batch"], steps, p, ev, dev, cfg["perturb"])
    ep_h = make_episodes("hold", cfg["eval_batch"], steps, p, ev, dev, cfg["perturb"])
    kw = {"steps": steps, "batch": cfg["batch"], "generator": gen, "device": dev, "perturb": cfg["perturb"]}
    models: dict[str, torch.nn.Module] = {}
    scores: dict[str, dict[str, float]] = {}
    curves: dict[str, list[float]] = {}

    for name, loss in (("left_smoothness", "smoothness"), ("right_stability", "stability")):
        torch.manual_seed(ctx.seed)
        h = Hemisphere(hid, p.max_torque).to(dev)
        curves[name] = train_controller(h, [(list(h.parameters()), loss)], p, iters=cfg["iters"], lr=cfg["lr"], **kw)
        models[name] = h
    left, right = models["left_smoothness"], models["right_stability"]
    for prm in [*left.parameters(), *right.parameters()]:
        prm.requires_grad_(False)
    models["bilateral_no_callosum"] = GatedBilateral(left, right, callosum=False).to(dev)
    torch.manual_seed(ctx.seed)
    gated = GatedBilateral(left, right, callosum=True).to(dev)
    curves["bilateral_callosal"] = train_controller(gated, [(list(gated.gate.parameters()), "task")], p,
                                                    iters=cfg["gate_iters"], lr=cfg["gate_lr"], **kw)
    models["bilateral_callosal"] = gated
    for name, cc in (("joint_no_callosum", False), ("joint_callosal", True)):
        if not cfg["joint"]:
            break
        torch.manual_seed(ctx.seed)
        b = BilateralController(hid, p.max_torque, callosum=cc).to(dev)
        lp, rp = list(b.left.parameters()), list(b.right.parameters())
        if cc:
            lp += list(b.l_from_r.parameters())
            rp += list(b.r_from_l.parameters())
        curves[name] = train_controller(b, [(lp, "smoothness"), (rp, "stability")], p, iters=cfg["iters"],
                                        lr=cfg["lr"], **kw)
        models[name] = b
    for name, m in models.items():
        scores[name] = task_scores(m, ep_r, ep_h, p)
        s = scores[name]
        ctx.log(f"{name:22s} reach {s['reach_score']:.4f} (end err {s['reach_end_error_cm']:.2f} cm, effort "
                f"{s['reach_effort']:.2f})  hold {s['hold_score_cm']:.3f} cm")
    with torch.no_grad():
        from ..circuits.bilateral import controller_features
        z_r = controller_features(ep_r.q0, torch.zeros_like(ep_r.q0), ep_r.target, p)
        z_h = controller_features(ep_h.q0, torch.zeros_like(ep_h.q0), ep_h.target, p)
        gate = {"reach_start": float(gated.mix(z_r).mean()), "hold_start": float(gated.mix(z_h).mean())}
    ctx.log(f"callosal gate weight on left hemisphere: reach start {gate['reach_start']:.2f}, "
            f"hold start {gate['hold_start']:.2f}")
    _figure(ctx, models, ep_r, ep_h, p, curves)
    return {"scores": scores, "gate_left_weight": gate, "iters": cfg["iters"], "seed": ctx.seed}


def _figure(ctx: StudyContext, models: dict[str, torch.nn.Module], ep_r: Any, ep_h: Any, p: ArmParams,
            curves: dict[str, list[float]]) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    with torch.no_grad():
        for name in ("left_smoothness", "right_stability", "bilateral_callosal"):
            xr, _ = rollout(models[name], ep_r, p)
            xh, _ = rollout(models[name], ep_h, p)
            line, = axes[0].plot(xr[:, 0, 0].cpu(), xr[:, 0, 1].cpu(), label=name)
            for i in range(1, 4):
                axes[0].plot(xr[:, i, 0].cpu(), xr[:, i, 1].cpu(), color=line.get_color())
            axes[1].plot(100 * (xh - ep_h.target).norm(dim=-1).mean(1).cpu(), label=name)
    axes[0].plot(ep_r.target[:4, 0].cpu(), ep_r.target[:4, 1].cpu(), "k*")
    axes[0].set(title="reaches (4 episodes)", xlabel="x (m)", ylabel="y (m)")
    axes[0].legend(fontsize=7)
    axes[1].set(title="hold under perturbation", xlabel="step", ylabel="mean deviation (cm)")
    for name, c in curves.items():
        axes[2].semilogy(c, label=name)
    axes[2].set(title="training loss", xlabel="iteration")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ctx.figure_path("bilateral.png"), dpi=100)
    plt.close(fig)


def checks(metrics: dict[str, Any], cfg: dict[str, Any]) -> list[CheckResult]:
    s = metrics["scores"]
    lf, rt, bi = s["left_smoothness"], s["right_stability"], s["bilateral_callosal"]
    tol = cfg["match_tolerance"]
    return [
        CheckResult("left (smoothness) hemisphere beats right on reach score", lf["reach_score"], rt["reach_score"],
                    lf["reach_score"] < rt["reach_score"], "paper column = right hemisphere's score"),
        CheckResult("right (stability) hemisphere beats left on hold (cm)", rt["hold_score_cm"], lf["hold_score_cm"],
                    rt["hold_score_cm"] < lf["hold_score_cm"], "paper column = left hemisphere's score"),
        CheckResult("callosal bilateral matches/beats left on reach", bi["reach_score"], lf["reach_score"],
                    bi["reach_score"] <= (1 + tol) * lf["reach_score"], f"match = within {tol:.0%}"),
        CheckResult("callosal bilateral matches/beats right on hold (cm)", bi["hold_score_cm"], rt["hold_score_cm"],
                    bi["hold_score_cm"] <= (1 + tol) * rt["hold_score_cm"], f"match = within {tol:.0%}"),
    ]


_BASE = {"hidden": 64, "max_torque": 10.0, "perturb": 4.0, "batch": 64, "eval_batch": 256, "lr": 3e-3,
         "gate_lr": 1e-2, "match_tolerance": 0.05}

STUDY = Study(
    name="bilateral",
    title="Left/right brain, human motor control and the implications for robotics",
    authors="Rinaldo, Kuhlmann, Friedman & Kowadlo",
    year=2024,
    url="https://arxiv.org/abs/2401.14057",
    claim="hemispheres trained with different losses (smoothness vs positional stability) specialise; a bilateral "
          "model matches or beats the preferred hemisphere on each task",
    scales={
        "smoke": {**_BASE, "hidden": 16, "steps": 15, "iters": 12, "gate_iters": 8, "batch": 16, "eval_batch": 32,
                  "joint": False},
        "small": {**_BASE, "steps": 50, "iters": 200, "gate_iters": 100, "joint": True},
        "paper": {**_BASE, "hidden": 128, "steps": 100, "iters": 3000, "gate_iters": 1000, "batch": 256,
                  "eval_batch": 1024, "joint": True},
    },
    run_fn=run,
    checks_fn=checks,
    paper_values={"claim": "each hemisphere best on its preferred task; bilateral matches or beats it"},
)
