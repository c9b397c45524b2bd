"""Wall-time overhead of the run store + checkpoints on the digits demo run (MLP 64-256-256-10, bs 32, SGD).

Three variants, interleaved ``--repeats`` times: plain ``Trainer.fit`` (A); A plus a ``Checkpointer``
(every epoch and every ``--every`` steps, fsynced) (B); ``run_config`` (C: B plus the SQLite run row,
per-epoch metrics, final results, git revision). Reports median and min of wall and CPU seconds (CPU counts
the writer thread too). The min is the least noisy estimate on a shared machine. Run:
``PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/lab_overhead.py [--epochs 30] [--rule fa] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from plasticity.lab.checkpoint import Checkpointer, encode, list_checkpoints, save_checkpoint, snapshot, trainer_state
from plasticity.lab.config import RunConfig, load_config
from plasticity.lab.runner import build, run_config
from plasticity.lab.store import RunStore, git_revision
from plasticity.lab.trainer import Callback, Trainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "digits_fa.yaml"


class _Sched(Callback):
    def __init__(self, s) -> None:
        self.s = s

    def on_epoch_end(self, trainer, record) -> None:
        self.s.step()


WRITTEN: list[tuple[int, int]] = []


def plain(cfg: RunConfig, folder: Path | None = None, max_overhead: float | None = None) -> None:
    b = build(cfg)
    cbs: list[Callback] = [_Sched(b.scheduler)] if b.scheduler is not None else []
    ck = None
    if folder is not None:
        ck = Checkpointer(folder, every=cfg.training.checkpoint_every, keep=cfg.training.keep_checkpoints,
                          max_overhead=cfg.training.checkpoint_overhead if max_overhead is None else max_overhead)
        cbs.append(ck)
    Trainer(b.model, b.rule, b.optimizer, b.data, epochs=cfg.training.epochs, batch_size=cfg.training.batch_size,
            seed=cfg.seed, callbacks=cbs).fit()
    if ck is not None:
        ck.wait()
        assert list_checkpoints(folder)
        WRITTEN.append((ck.written, ck.skipped))


def lab(cfg: RunConfig, db: Path) -> None:
    """One run through the lab, recorded in the (existing) store ``db``, as ``plasticity run`` does."""
    store = RunStore(db)
    rid, out = run_config(cfg, store, report=False)
    store.close()
    assert out.status == "finished", out.message
    assert list_checkpoints(db.parent / rid / "checkpoints")


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def best_ms(fn: Callable[[], object], n: int) -> float:
    """Least wall time of ``n`` calls, in ms (the least noisy estimate of a small operation's own cost)."""
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return 1000 * best


def accounting(cfg: RunConfig, root: Path, writes: int, n: int = 30) -> dict[str, float]:
    """Cost of each lab operation measured on its own (min of ``n``), in ms per run."""
    b = build(cfg)
    tr = Trainer(b.model, b.rule, b.optimizer, b.data, epochs=1, batch_size=cfg.training.batch_size, seed=cfg.seed)
    tr.fit()
    state = snapshot(trainer_state(tr))
    folder = root / "acc"
    k = iter(range(10**9))
    out = {
        "snapshot (training thread)": writes * best_ms(lambda: snapshot(trainer_state(tr)), n),
        "encode + CRC (writer thread)": writes * best_ms(lambda: encode(state), n),
        "encode + write + fsync + rotate (writer)": writes * best_ms(
            lambda: save_checkpoint(folder, state, next(k), keep=cfg.training.keep_checkpoints), n),
    }

    RunStore(root / "acc.db").close()

    def store_ops() -> None:
        st = RunStore(root / "acc.db")
        rid = f"r{next(k)}"
        st.create_run(rid, cfg.to_dict(), name=cfg.name, seed=cfg.seed)
        for e in range(cfg.training.epochs):
            rec = {"epoch": e + 1, "train_loss": 0.1, "test_loss": 0.1, "test_accuracy": 0.9}
            st.log_epoch(rid, rec, step=e)
        st.finish_run(rid, "finished", results={"test_accuracy": 0.9}, history=[{"epoch": 1}], seconds=1.0)
        st.close()

    out["store: open, run row, per-epoch rows, finish"] = best_ms(store_ops, max(3, n // 5))
    out["git revision (once per process)"] = best_ms(git_revision.__wrapped__, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--rule", default="fa")
    ap.add_argument("--every", type=int, default=200, help="steps between mid-epoch checkpoints")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(CONFIG, [f"training.epochs={args.epochs}", f"rule.name={args.rule}",
                               f"training.checkpoint_every={args.every}"])
    names = ("plain Trainer.fit", "+ every checkpoint", "+ checkpoints", "+ checkpoints + store")
    res: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        short = cfg.model_copy(update={"training": cfg.training.model_copy(update={"epochs": 1})})
        plain(short)  # warm-up: imports, allocator, first checkpoint/store code paths
        lab(short, root / "s.db")  # also creates the store once (a one-time cost of ~50 ms with its fsyncs)
        for i in range(args.repeats):
            res[names[0]].append(timed(lambda: plain(cfg)))
            res[names[1]].append(timed(lambda i=i: plain(cfg, root / f"all{i}", max_overhead=1.0)))
            res[names[2]].append(timed(lambda i=i: plain(cfg, root / f"ck{i}")))
            res[names[3]].append(timed(lambda: lab(cfg, root / "s.db")))
    steps = args.epochs * -(-1437 // cfg.training.batch_size)
    writes = args.epochs + steps // max(args.every, 1)
    print(f"digits demo run: rule {args.rule}, {args.epochs} epochs ({steps} steps), checkpoint every epoch + every "
          f"{args.every} steps ({writes} fsynced ~1 MB writes); {args.repeats} interleaved repeats, 1 torch thread "
          "(shared CPU: timings are noisy)")
    budget = WRITTEN[1::2]
    print(f"'+ every checkpoint': all {writes} due checkpoints (checkpoint_overhead=1); '+ checkpoints': the "
          f"default checkpoint_overhead={cfg.training.checkpoint_overhead} wrote "
          f"{min(w for w, _ in budget)}-{max(w for w, _ in budget)} of them (the rest skipped); "
          "'+ store': as `plasticity run` (run row, per-epoch rows, results, git revision) into one existing store")
    base_w = _table(res, names)
    with tempfile.TemporaryDirectory() as tmp:
        acc = accounting(cfg, Path(tmp), writes)
    print(f"\nper-operation accounting for all {writes} checkpoints (min of repeats, per run), against the plain run's least wall time "
          f"{1000 * base_w:.0f} ms:")
    print(f"{'operation':<46}{'ms/run':>10}{'% of run':>10}")
    for k, v in acc.items():
        print(f"{k:<46}{v:>10.1f}{100 * v / (1000 * base_w):>9.1f}%")
    main_thread = acc["snapshot (training thread)"] + acc["store: open, run row, per-epoch rows, finish"] + \
        acc["git revision (once per process)"]
    total = main_thread + acc["encode + write + fsync + rotate (writer)"]
    print(f"{'on the training thread (snapshot, store, git)':<46}{main_thread:>10.1f}"
          f"{100 * main_thread / (1000 * base_w):>9.1f}%")
    print(f"{'all of it, as if on one core':<46}{total:>10.1f}{100 * total / (1000 * base_w):>9.1f}%")


def _table(res: dict[str, list[tuple[float, float]]], names: tuple[str, ...]) -> float:
    print(f"{'variant':<24}{'wall med':>10}{'wall min':>10}{'CPU med':>10}{'CPU min':>10}"
          f"{'wall ovh (min)':>16}{'CPU ovh (min)':>15}")
    base_w = min(w for w, _ in res[names[0]])
    base_c = min(c for _, c in res[names[0]])
    for n in names:
        w = [x[0] for x in res[n]]
        c = [x[1] for x in res[n]]
        print(f"{n:<24}{statistics.median(w):>10.3f}{min(w):>10.3f}{statistics.median(c):>10.3f}{min(c):>10.3f}"
              f"{100 * (min(w) - base_w) / base_w:>+15.1f}%{100 * (min(c) - base_c) / base_c:>+14.1f}%")
    return base_w


if __name__ == "__main__":
    main()
