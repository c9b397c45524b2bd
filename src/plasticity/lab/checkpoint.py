"""Crash-safe checkpoints: model, optimizer, rule state, RNG states and the loader position.

A checkpoint file is a ``PLCK1 <crc32> <length>`` header line + the torch.save payload, written atomically
(temp file, fsync, rename). ``load_latest`` verifies length and CRC and falls back to the previous file when
the newest is corrupt. The CRC detects damage, not tampering: payloads load with ``torch.load(weights_only=True)``,
which unpickles only tensors and plain data (plus the types in ``SAFE_TYPES``), so a crafted checkpoint cannot
run code. ``Checkpointer`` is a ``Trainer`` callback that writes one every epoch and every N steps.
"""

from __future__ import annotations

import io
import random
import re
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..utils import atomic_write_bytes
from .trainer import Callback, Trainer

_NAME = re.compile(r"^ckpt-(\d{10})\.pt$")
_MAGIC = b"PLCK1"
SAFE_TYPES: list[Any] = []  # our own types allowed in a checkpoint (none needed: states are tensors and plain data)


class CheckpointError(RuntimeError):
    """A checkpoint file failed its checksum or could not be read."""


def rng_state(extra: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Python, NumPy, torch (CPU and CUDA) RNG states plus named generators' states."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    numpy_state = {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                   "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}  # plain data: weights_only loads it
    st: dict[str, Any] = {"python": random.getstate(), "numpy": numpy_state,
                          "torch": torch.get_rng_state(), "generators": {}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state_all()
    for k, g in (extra or {}).items():
        st["generators"][k] = g.get_state()
    return st


def set_rng_state(st: dict[str, Any], extra: dict[str, torch.Generator] | None = None) -> None:
    random.setstate(st["python"])
    npst = st["numpy"]
    if isinstance(npst, dict):
        npst = (npst["kind"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"],
                npst["cached_gaussian"])
    np.random.set_state(npst)
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])
    for k, g in (extra or {}).items():
        if k in st.get("generators", {}):
            g.set_state(st["generators"][k])


def rule_generators(rule: Any) -> dict[str, torch.Generator]:
    """torch.Generator attributes of a rule (e.g. optical DFA's camera noise) — part of its RNG state."""
    return {k: v for k, v in vars(rule).items() if isinstance(v, torch.Generator)}


def trainer_state(trainer: Trainer, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to continue ``trainer`` bit-identically from this point."""
    return {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "rule": trainer.rule.state_dict(),
        "rng": rng_state(rule_generators(trainer.rule)),
        "position": {"epoch": trainer.epoch, "batch_in_epoch": trainer.batch_in_epoch,
                     "global_step": trainer.global_step, "loss_sum": trainer._loss_sum.detach().cpu().clone(),
                     "loss_count": trainer._loss_count, "step_seconds": trainer.step_seconds,
                     "initial_loss": getattr(trainer, "initial_loss", None)},
        "history": list(trainer.history),
        "extra": extra or {},
    }


def restore_trainer(trainer: Trainer, state: dict[str, Any]) -> dict[str, Any]:
    """Load ``state`` (from ``trainer_state``) into a freshly built trainer; returns ``state['extra']``."""
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.rule.load_state_dict(state["rule"])
    pos = state["position"]
    trainer.epoch, trainer.batch_in_epoch = int(pos["epoch"]), int(pos["batch_in_epoch"])
    trainer.global_step, trainer._loss_count = int(pos["global_step"]), int(pos["loss_count"])
    trainer._loss_sum = pos["loss_sum"].to(trainer.device).clone()
    trainer.step_seconds = float(pos.get("step_seconds", 0.0))
    if pos.get("initial_loss") is not None:
        trainer.initial_loss = float(pos["initial_loss"])
    trainer.history = list(state["history"])
    set_rng_state(state["rng"], rule_generators(trainer.rule))
    return state.get("extra", {})


def snapshot(obj: Any) -> Any:
    """A consistent copy of ``obj`` (nested dicts/lists/tuples): every tensor copied to CPU memory.

    Cheap (a memcpy per tensor) and done on the training thread, so serialising and writing can happen
    on a background thread while training already changes the live tensors."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [snapshot(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(snapshot(v) for v in obj)
    return obj


def encode(state: dict[str, Any]) -> bytes:
    """Checkpoint bytes: header ``PLCK1 <crc32 hex> <payload length>\\n`` then the ``torch.save`` payload.

    CRC-32 plus the length detects torn writes and bit rot (the threat here; not tampering) at a quarter
    of sha256's cost, and ``zlib`` releases the GIL, so this can run on the writer thread."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    return b"%s %08x %d\n" % (_MAGIC, zlib.crc32(payload), len(payload)) + payload


def decode(blob: bytes, name: str = "checkpoint") -> dict[str, Any]:
    """Verify the header's length and CRC-32, then load; any mismatch is a ``CheckpointError``."""
    header, sep, payload = blob[:64].partition(b"\n")
    parts = header.split(b" ")
    ok = bool(sep) and len(parts) == 3 and parts[0] == _MAGIC
    if ok:
        payload = blob[len(header) + 1:]
        try:
            ok = int(parts[2]) == len(payload) and int(parts[1], 16) == zlib.crc32(payload)
        except ValueError:
            ok = False
    if not ok:
        raise CheckpointError(f"{name}: checksum mismatch (truncated or corrupt)")
    try:
        with torch.serialization.safe_globals(SAFE_TYPES):
            return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # a valid CRC over a payload that is not plain data: crafted or from elsewhere
        msg = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{name}: refused: not tensors and plain data ({type(exc).__name__}: {msg})") from None


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoint files in ``folder``, oldest first (named by global step)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def save_checkpoint(folder: str | Path, state: dict[str, Any], step: int, keep: int = 3) -> Path:
    """Atomically write ``ckpt-<step>.pt`` and delete all but the newest ``keep``."""
    path = Path(folder) / f"ckpt-{int(step):010d}.pt"
    atomic_write_bytes(path, encode(state))
    for old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_latest(folder: str | Path) -> tuple[dict[str, Any], Path] | None:
    """Newest checkpoint that passes its checksum (corrupt ones are skipped, newest first), or None."""
    for path in reversed(list_checkpoints(folder)):
        try:
            return decode(path.read_bytes(), str(path)), path
        except (CheckpointError, OSError):
            continue
    return None


class Checkpointer(Callback):
    """Trainer callback: checkpoint at every epoch end and every ``every`` steps (0: epochs only).

    The training thread only copies the state (``snapshot``); serialising, the checksum and the write+fsync
    run on a background thread (one at a time, joined before the next), so disk latency does not stall
    training. ``extra()`` adds caller state (e.g. an LR scheduler) to each checkpoint.

    ``max_overhead`` bounds the cost: a due checkpoint is skipped while the time spent checkpointing so far
    (copy + write, counted as if on the training thread) plus the last write's cost would exceed that
    fraction of the wall time since training started. Only very short epochs are affected (digits: ~30 ms
    per epoch vs ~3 ms per write); the final epoch is always written, and 1.0 writes every due checkpoint.
    """

    def __init__(self, folder: str | Path, every: int = 0, keep: int = 3, extra: Any = None,
                 background: bool = True, max_overhead: float = 1.0) -> None:
        self.folder, self.every, self.keep = Path(folder), int(every), int(keep)
        self.extra = extra
        self.background = background
        self.max_overhead = float(max_overhead)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._t0: float | None = None
        self._spent = 0.0
        self._last_cost = 0.0
        self._job_seconds = 0.0
        self.written = 0
        self.skipped = 0

    def _due(self, force: bool) -> bool:
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        if force or self.max_overhead >= 1.0:
            return True
        if self._spent + self._last_cost <= self.max_overhead * (now - self._t0):
            return True
        self.skipped += 1
        return False

    def _write(self, trainer: Trainer, force: bool = False) -> None:
        if not self._due(force):
            return
        t0 = time.perf_counter()
        state = snapshot(trainer_state(trainer, self.extra() if self.extra else None))
        step = trainer.global_step
        self.wait()
        copy_s = time.perf_counter() - t0

        def job() -> None:
            j0 = time.perf_counter()
            try:
                path = self.folder / f"ckpt-{int(step):010d}.pt"
                atomic_write_bytes(path, encode(state))
                for old in list_checkpoints(self.folder)[:-self.keep]:
                    old.unlink(missing_ok=True)
            except BaseException as exc:  # surfaced on the next wait(): the run fails, it never ends "finished"
                err = CheckpointError(f"checkpoint write to {str(self.folder)!r} failed: {type(exc).__name__}: {exc}")
                err.__cause__ = exc
                self._error = err
            finally:
                self._job_seconds = time.perf_counter() - j0

        self.written += 1
        if self.background:
            self._thread = threading.Thread(target=job, daemon=True)
            self._thread.start()
        else:
            job()
            self._spent += self._job_seconds
            self.wait()
        self._spent += copy_s
        self._last_cost = copy_s + self._job_seconds  # the previous job's time until this one is joined

    def wait(self) -> None:
        """Block until the pending write is on disk; re-raise its error if it failed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._spent += self._job_seconds
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def on_step_end(self, trainer: Trainer, report: Any) -> None:
        if self.every and trainer.global_step % self.every == 0:
            self._write(trainer)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        self._write(trainer, force=trainer.epoch >= trainer.epochs)
