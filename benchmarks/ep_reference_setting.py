"""EP homeostasis in the reference's Fig. 4a-d setting, reduced for CPU: per-seed recovered fraction of the gap.

Runs the ``ep`` study's asymmetry part with the paper-scale config (Fashion-MNIST, 784-256-256 + dynamic output,
AdamW lr 1e-4, homeostasis 1, exact-limit gEP) at fewer epochs, a training subset and optionally shorter relaxations,
and prints, per seed, the test accuracy of the symmetric net, the asymmetric net without and with homeostasis, the
Jacobian asymmetry and the fraction of the gap recovered. Not a ledger record; the study's ``cpu``
scale is the recorded 2-epoch version of the same setting.

    python benchmarks/ep_reference_setting.py --epochs 3 --n-train 3000 --n-test 2000 --seeds 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from plasticity.studies import get_study
from plasticity.studies.base import StudyContext
from plasticity.studies.ep import _asymmetry, _recovered, asym_data
from plasticity.utils import atomic_write_json


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n-train", type=int, default=3000)
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--T", type=int, nargs=2, default=None, help="T1 T2 (default: the reference's 150 20)")
    p.add_argument("--lr", type=float, default=None, help="default: the reference's 1e-4")
    p.add_argument("--homeostasis", type=float, default=None, help="default: the reference's 1.0")
    p.add_argument("--variants", nargs="+", default=["gep_sym", "gep", "gep_homeo"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="write the per-seed runs as JSON here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    over = {"asym_epochs": a.epochs, "n_train": a.n_train, "n_test": a.n_test, "asym_seeds": a.seeds}
    if a.T:
        over["asym_T"] = list(a.T)
    if a.lr:
        over["asym_lr"] = a.lr
    if a.homeostasis is not None:
        over["homeostasis"] = a.homeostasis
    cfg = get_study("ep").config("paper", **over)
    data = asym_data(cfg)
    ctx = StudyContext(out_dir=Path("."), device=torch.device("cpu"), seed=a.seed, scale="paper", quiet=False)
    t0 = time.perf_counter()
    out = _asymmetry(cfg, data, ctx, a.variants, {})
    wall = time.perf_counter() - t0
    runs = out["asym_runs"]
    print(f"\nreference setting on CPU: {out['asym_sizes']} output={out['asym_output']} {data.name} "
          f"n_train={a.n_train} n_test={a.n_test} epochs={a.epochs} T={cfg['asym_T']} lr={cfg['asym_lr']} "
          f"homeostasis={cfg['homeostasis']}  wall {wall:.0f}s")
    print("seed | sym acc | asym acc | asym+homeo acc | asym before/after/after homeo | recovered fraction")
    for i in range(a.seeds):
        r = {v: runs[v][i] for v in a.variants}
        frac = _recovered(r["gep_sym"]["acc"], r["gep"]["acc"], r["gep_homeo"]["acc"]) \
            if {"gep_sym", "gep", "gep_homeo"} <= r.keys() else float("nan")
        print(f"{r[a.variants[0]]['seed']:4d} | " + " | ".join(f"{r[v]['acc']:.4f}" for v in a.variants)
              + (f" | {r['gep']['asym_before']:.3f}/{r['gep']['asym_after']:.3f}/{r['gep_homeo']['asym_after']:.3f}"
                 if {"gep", "gep_homeo"} <= r.keys() else "") + f" | {frac:.2f}")
    if {"gep_sym", "gep", "gep_homeo"} <= set(a.variants):
        print(f"mean-gap recovered fraction: {_recovered(out['acc_gep_sym'], out['acc_gep'], out['acc_gep_homeo']):.2f}")
    if a.out:
        atomic_write_json(a.out, {"args": vars(a), "wall_s": wall, "metrics": out})


if __name__ == "__main__":
    main()
