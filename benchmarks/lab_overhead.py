"""Wall-time overhead of the run store + checkpoints on the digits demo run (MLP 64-256-256-10, bs 32, SGD).

Interleaves plain ``Trainer.fit`` (A) with ``run_config`` (B: SQLite row + per-epoch metrics + checkpoints every
epoch and every ``--every`` steps, fsynced) and reports the median of ``--repeats`` pairs. Run:
``PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/lab_overhead.py [--epochs 30] [--rule fa]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from plasticity.lab.checkpoint import list_checkpoints
from plasticity.lab.config import load_config
from plasticity.lab.runner import build, run_config
from plasticity.lab.store import RunStore
from plasticity.lab.trainer import Callback, Trainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "digits_fa.yaml"


class _Sched(Callback):
    def __init__(self, s) -> None:
        self.s = s

    def on_epoch_end(self, trainer, record) -> None:
        self.s.step()


def plain(cfg) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    b = build(cfg)
    cbs = [_Sched(b.scheduler)] if b.scheduler is not None else []
    Trainer(b.model, b.rule, b.optimizer, b.data, epochs=cfg.training.epochs, batch_size=cfg.training.batch_size,
            seed=cfg.seed, callbacks=cbs).fit()
    return time.perf_counter() - t0, time.process_time() - c0


def lab(cfg, folder: Path) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    store = RunStore(folder / "s.db")
    rid, out = run_config(cfg, store, report=False)
    store.close()
    assert out.status == "finished", out.message
    assert list_checkpoints(folder / rid / "checkpoints")
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--rule", default="fa")
    ap.add_argument("--every", type=int, default=200, help="steps between mid-epoch checkpoints")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(CONFIG, [f"training.epochs={args.epochs}", f"rule.name={args.rule}",
                               f"training.checkpoint_every={args.every}"])
    a, b, ca, cb = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        short = cfg.model_copy(update={"training": cfg.training.model_copy(update={"epochs": 1})})
        plain(short)  # warm-up: imports, allocator, first checkpoint/store code paths
        lab(short, Path(tmp) / "warm")
        for i in range(args.repeats):
            w, c = plain(cfg)
            a.append(w)
            ca.append(c)
            w, c = lab(cfg, Path(tmp) / str(i))
            b.append(w)
            cb.append(c)
        writes = args.epochs + (args.epochs * 45) // max(args.every, 1)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"digits demo run: rule {args.rule}, {args.epochs} epochs, checkpoint every epoch + every {args.every} steps"
          f" (~{writes} fsynced writes), {args.repeats} interleaved repeats (shared CPU: timings are noisy)")
    print(f"{'variant':<28}{'median s':>10}{'min s':>10}{'max s':>10}")
    print(f"{'plain Trainer.fit':<28}{ma:>10.3f}{min(a):>10.3f}{max(a):>10.3f}")
    print(f"{'store + checkpoints':<28}{mb:>10.3f}{min(b):>10.3f}{max(b):>10.3f}")
    print(f"{'plain Trainer.fit (CPU s)':<28}{statistics.median(ca):>10.3f}{min(ca):>10.3f}{max(ca):>10.3f}")
    print(f"{'store + ckpt (CPU s)':<28}{statistics.median(cb):>10.3f}{min(cb):>10.3f}{max(cb):>10.3f}")
    print(f"wall overhead: {100 * (mb - ma) / ma:+.1f}% (median), {100 * (min(b) - min(a)) / min(a):+.1f}% (min vs min)")
    mca, mcb = statistics.median(ca), statistics.median(cb)
    print(f"CPU-time overhead: {100 * (mcb - mca) / mca:+.1f}% (median), "
          f"{100 * (min(cb) - min(ca)) / min(ca):+.1f}% (min vs min)")


if __name__ == "__main__":
    main()
