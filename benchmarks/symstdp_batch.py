"""sym-STDP (Hao et al. 2020): accuracy against batch size and number of training images, one seed per line.

Trains the ``symstdp`` study's network with a scale's constants (default ``cpu``: the reference's 400-neuron
values) on the first ``--n`` images of the seeded training split, ``--batch`` images in flight per presentation
(1 = the reference's one image at a time), and scores both readouts on ``--n-val`` held-out training images (the
test set is never read). Shows whether the batched variant learns as the online one does, and how accuracy grows
with images. Not a ledger record. Run:

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/symstdp_batch.py --n 2000 --batch 1 10 100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from plasticity.data import load_dataset
from plasticity.spiking.symstdp import SymSTDPNetwork
from plasticity.studies import get_study
from plasticity.studies.base import StudyContext
from plasticity.studies.symstdp import _split, net_config, train_and_eval


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="cpu")
    p.add_argument("--n-exc", type=int, default=None, help="default: the scale's")
    p.add_argument("--n", type=int, nargs="+", default=[2000], help="training images (each value one run)")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--n-val", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    over = {"log_every": 10**9} | ({"n_exc": a.n_exc} if a.n_exc else {})
    cfg = get_study("symstdp").config(a.scale, **over)
    data = load_dataset(cfg["dataset"])
    x_all, y_all = data.x_train.flatten(1), data.y_train
    tr, va = _split(x_all.shape[0], 0, a.n_val, a.seed)
    ctx = StudyContext(out_dir=Path("."), device=torch.device("cpu"), seed=a.seed, scale=a.scale, quiet=True)
    ncfg = net_config(cfg, x_all.shape[1], data.n_classes)
    print(f"{'images':>7} {'batch':>5} {'val acc':>8} {'assign':>7} {'train s':>8}")
    for n in a.n:
        for bs in a.batch:
            t0 = time.perf_counter()
            m = train_and_eval(SymSTDPNetwork(ncfg, seed=a.seed), x_all[tr[:n]], y_all[tr[:n]],
                               {"val": (x_all[va], y_all[va])}, {**cfg, "epochs": 1}, bs, a.seed, ctx)
            print(f"{n:>7} {bs:>5} {m['val_accuracy']:>8.4f} {m['val_assignment_accuracy']:>7.4f} "
                  f"{time.perf_counter() - t0:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
