"""Sweeps: expand a grid and/or list of overrides over a base config; run trials on a process pool or Ray.

The driver is the only writer to the store: workers run ``run_trial`` (store-free, checkpointing into the
trial's folder) and return the outcome, which the driver records in one transaction. Trial ids are a
function of the sweep spec, so re-running a sweep skips finished (and diverged) trials and resumes the
interrupted or failed ones from their newest checkpoint. A trial is claimed in a store transaction before it
starts, so two drivers of one sweep share the trials and never run one twice. A worker that dies (an OOM
kill) fails its own trial only, after ``retries`` re-runs; workers die with their driver.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .config import RunConfig, apply_overrides, read_yaml, validate_config
from .store import RunStore

SPEC_KEYS = ("name", "base", "set", "grid", "list")
DONE = ("finished", "diverged")
EXECUTORS = ("process", "ray", "inline")


@dataclass
class Trial:
    id: str
    index: int
    overrides: dict[str, Any]
    config: RunConfig


@dataclass
class SweepPlan:
    id: str
    name: str
    spec: dict[str, Any]
    trials: list[Trial]


@dataclass
class SweepSummary:
    sweep_id: str
    total: int
    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    elsewhere: list[str] = field(default_factory=list)
    report: str | None = None

    @property
    def ok(self) -> bool:
        return all(s == "finished" for s in self.statuses.values())


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and not key.endswith("params"):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def load_sweep(spec: str | Path | dict[str, Any]) -> SweepPlan:
    """Parse and validate a sweep (YAML path or dict); every trial's config is validated before anything runs."""
    base_dir = Path(".")
    if not isinstance(spec, dict):
        base_dir = Path(spec).parent
        spec = read_yaml(spec)
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"sweep: unknown key {unknown[0]!r}; allowed: {', '.join(SPEC_KEYS)}")
    base = spec.get("base", {})
    if isinstance(base, str):
        base = read_yaml(base_dir / base if not Path(base).is_absolute() else base)
    if not isinstance(base, dict):
        raise ConfigError("sweep: 'base' must be a config mapping or a path to a config YAML")
    base = apply_overrides(base, _flat(spec.get("set") or {}))
    grid = spec.get("grid") or {}
    items = spec.get("list") or [{}]
    if not isinstance(grid, dict) or any(not isinstance(v, list) or not v for v in grid.values()):
        raise ConfigError("sweep: 'grid' must map dotted keys to non-empty lists, e.g. {rule.name: [bp, fa]}")
    if not isinstance(items, list) or any(not isinstance(i, dict) for i in items):
        raise ConfigError("sweep: 'list' must be a list of mappings of dotted keys to values")
    name = str(spec.get("name") or "sweep")
    keys = list(grid)
    combos = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(grid[k] for k in keys))]
    canonical = json.dumps({"base": base, "grid": grid, "list": items}, sort_keys=True, default=str)
    sweep_id = f"{''.join(c if c.isalnum() or c in '-_' else '-' for c in name)[:40]}-" \
               f"{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"
    trials = []
    for item in items:
        for combo in combos:
            ov = {**_flat(item), **combo}
            try:
                cfg = validate_config(apply_overrides(base, ov))
            except ConfigError as exc:
                raise ConfigError(f"sweep trial {ov}: {exc}") from None
            if "name" not in ov:
                label = ",".join(f"{k.split('.')[-1] if k.endswith('name') else k}={v}" for k, v in ov.items())
                cfg = cfg.model_copy(update={"name": f"{name}[{label}]" if label else name})
            i = len(trials)
            trials.append(Trial(f"{sweep_id}-{i:03d}", i, ov, cfg))
    return SweepPlan(sweep_id, name, {"name": name, "base": base, "grid": grid, "list": items}, trials)


def run_trial(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point (process pool or Ray): execute one trial, return its outcome as a dict."""
    try:
        import torch

        if "threads" in payload:
            torch.set_num_threads(int(payload["threads"]))
        from .runner import execute

        cfg = validate_config(payload["config"])
        out = execute(cfg, payload["run_dir"], resume=True)
        return out.to_dict()
    except BaseException as exc:  # a failed trial never stops the sweep
        return {"status": "failed", "history": [], "results": {}, "message": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "seconds": 0.0, "artefacts": {}}


class _Executor:
    def submit(self, payload: dict[str, Any]) -> Any: ...

    def wait_any(self, pending: list[Any]) -> tuple[list[tuple[Any, dict[str, Any]]], list[Any]]: ...

    def close(self) -> None: ...


class _InlineExecutor(_Executor):
    """Runs each trial in the driver process when it is waited for (debugging, tests, one-core machines)."""

    class _Job:
        def __init__(self, payload: dict[str, Any]) -> None:
            self.payload = payload

    def submit(self, payload: dict[str, Any]) -> Any:
        return self._Job({k: v for k, v in payload.items() if k != "threads"})

    def wait_any(self, pending: list[Any]) -> tuple[list[tuple[Any, dict[str, Any]]], list[Any]]:
        first = pending[0]
        return [(first, run_trial(first.payload))], pending[1:]


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker end when the driver does: ``PR_SET_PDEATHSIG`` (Linux) plus a watchdog thread that
    polls the parent pid (every platform; also covers a parent that died before the prctl)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # the trial stops at a step boundary (status interrupted)
        time.sleep(5.0)
        os._exit(1)

    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _worker_main(conn: Any, parent_pid: int) -> None:
    """A pool worker: run trials sent over ``conn`` one at a time until ``None`` or the pipe closes."""
    _die_with_parent(parent_pid)
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        if payload is None:
            return
        try:
            conn.send(run_trial(payload))
        except (BrokenPipeError, OSError):
            return


def _died(message: str) -> dict[str, Any]:
    return {"status": "failed", "history": [], "results": {}, "seconds": 0.0, "artefacts": {}, "message": message,
            "traceback": None, "worker_died": True}


class _PoolExecutor(_Executor):
    """Long-lived ``spawn`` worker processes, one trial each at a time, over pipes. Unlike a
    ``ProcessPoolExecutor`` (which breaks as a whole when one worker dies), a dead worker fails only its own
    trial and is replaced; workers end with the driver (``_die_with_parent``)."""

    class _Job:
        def __init__(self, proc: Any, conn: Any) -> None:
            self.proc, self.conn = proc, conn

    def __init__(self, workers: int) -> None:
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.idle: list[tuple[Any, Any]] = []
        self.all: list[tuple[Any, Any]] = []

    def submit(self, payload: dict[str, Any]) -> Any:
        if self.idle:
            proc, conn = self.idle.pop()
        else:
            conn, child = self.ctx.Pipe()
            proc = self.ctx.Process(target=_worker_main, args=(child, os.getpid()), daemon=True)
            proc.start()
            child.close()
            self.all.append((proc, conn))
        conn.send(payload)
        return self._Job(proc, conn)

    def wait_any(self, pending: list[Any]) -> tuple[list[tuple[Any, dict[str, Any]]], list[Any]]:
        from multiprocessing.connection import wait as mp_wait

        by_handle: dict[Any, Any] = {}
        for job in pending:
            by_handle[job.conn] = job
            by_handle[job.proc.sentinel] = job
        ready = mp_wait(list(by_handle))
        done: list[Any] = []
        for h in ready:
            if by_handle[h] not in done:
                done.append(by_handle[h])
        out = []
        for job in done:
            try:
                if not job.conn.poll():
                    raise EOFError
                res = job.conn.recv()
                self.idle.append((job.proc, job.conn))
            except (EOFError, OSError):
                job.proc.join(timeout=5)
                code = job.proc.exitcode
                sig = f" ({signal.Signals(-code).name})" if code is not None and code < 0 else ""
                res = _died(f"worker process {job.proc.pid} died (exit code {code}{sig}), e.g. killed for memory")
                job.conn.close()
            out.append((job, res))
        return out, [j for j in pending if j not in done]

    def close(self) -> None:
        for _proc, conn in self.all:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc, conn in self.all:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            conn.close()


def require_ray() -> Any:
    """Import ``ray`` or raise a one-line ``ConfigError`` naming the optional extra."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs the optional extra: pip install 'plasticity[ray]'") from None
    return ray


class _RayExecutor(_Executor):
    def __init__(self, address: str | None, workers: int, retries: int = 0) -> None:
        ray = require_ray()
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        # workers import plasticity from the same source tree as the driver (matters for a source checkout)
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        self.remote = ray.remote(num_cpus=1, max_retries=retries,
                                 runtime_env={"env_vars": {"PYTHONPATH": path}})(run_trial)

    def submit(self, payload: dict[str, Any]) -> Any:
        return self.remote.remote(payload)

    def wait_any(self, pending: list[Any]) -> tuple[list[tuple[Any, dict[str, Any]]], list[Any]]:
        done, rest = self.ray.wait(pending, num_returns=1)
        out = []
        for ref in done:
            try:
                out.append((ref, self.ray.get(ref)))
            except Exception as exc:
                out.append((ref, {"status": "failed", "history": [], "results": {}, "seconds": 0.0,
                                  "artefacts": {}, "message": f"ray task failed: {' '.join(str(exc).split())[:500]}",
                                  "traceback": traceback.format_exc()}))
        return out, list(rest)

    def close(self) -> None:
        pass


def make_executor(kind: str, workers: int, address: str | None = None, retries: int = 0) -> _Executor:
    if kind == "process":
        return _PoolExecutor(workers)
    if kind == "ray":
        return _RayExecutor(address, workers, retries)
    if kind == "inline":
        return _InlineExecutor()
    raise ConfigError(f"unknown executor {kind!r}; allowed: {', '.join(EXECUTORS)}")


def check_sweep_outputs(store_path: str | Path, plan: SweepPlan) -> None:
    """Before anything is written: the sweep's folder (and every existing trial folder) must be writable."""
    from .paths import check_writable_dir

    folder = Path(store_path).parent / "sweeps" / plan.id
    check_writable_dir(folder, "sweep folder")
    for t in plan.trials:
        for sub in (folder / t.id, folder / t.id / "checkpoints"):
            if sub.exists():
                check_writable_dir(sub, "trial folder")


def run_sweep(spec: str | Path | dict[str, Any] | SweepPlan, store: RunStore, *, workers: int = 2,
              executor: str = "process", address: str | None = None, retries: int = 0,
              on_progress: Callable[[int, int, str, str], None] | None = None) -> SweepSummary:
    """Run every unfinished trial of a sweep, at most ``workers`` at a time; only this process writes ``store``.

    A trial whose worker dies is re-run up to ``retries`` times (resuming from its checkpoints), then recorded
    ``failed`` with the reason; the other trials go on. Trials another live driver has claimed are left to it
    (``summary.elsewhere``)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise ConfigError(f"workers={workers} is out of range; allowed: [1, inf)")
    if retries < 0:
        raise ConfigError(f"retries={retries} is out of range; allowed: [0, inf)")
    if executor == "ray":
        require_ray()  # before anything is written
    plan = spec if isinstance(spec, SweepPlan) else load_sweep(spec)
    check_sweep_outputs(store.path, plan)
    store.mark_stale()
    store.upsert_sweep(plan.id, plan.name, plan.spec)
    summary = SweepSummary(plan.id, len(plan.trials))
    todo = []
    for t in plan.trials:
        row = store.get_run(t.id)
        if row is not None and row["status"] in DONE:
            summary.skipped.append(t.id)
            summary.statuses[t.id] = row["status"]
        else:
            todo.append(t)
    done_count = len(summary.skipped)
    if on_progress:
        on_progress(done_count, summary.total, "", "")
    if not todo:
        return summary
    ex = make_executor(executor, workers, address, retries)
    if executor == "inline":
        workers = 1
    in_flight: dict[Any, Trial] = {}
    queue = list(todo)
    attempts: dict[str, int] = {}
    sweep_dir = store.path.parent / "sweeps" / plan.id
    try:
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                t = queue.pop(0)
                run_dir = sweep_dir / t.id
                taken = store.claim_run(t.id, t.config.to_dict(), name=t.config.name, seed=t.config.seed,
                                        sweep_id=plan.id, config_hash=t.config.digest(), run_dir=str(run_dir))
                if taken is not None:  # done meanwhile, or another driver is running it
                    if taken == "elsewhere":
                        summary.elsewhere.append(t.id)
                    else:
                        summary.skipped.append(t.id)
                        summary.statuses[t.id] = taken
                    continue
                fut = ex.submit({"config": t.config.to_dict(), "run_dir": str(run_dir), "threads": 1})
                in_flight[fut] = t
            if not in_flight:
                break
            finished, _ = ex.wait_any(list(in_flight))
            for fut, res in finished:
                t = in_flight.pop(fut)
                if res.get("worker_died") and attempts.get(t.id, 0) < retries:
                    attempts[t.id] = attempts.get(t.id, 0) + 1
                    queue.append(t)  # resumes from its newest checkpoint
                    continue
                if res.get("worker_died") and retries:
                    res["message"] += f"; gave up after {retries} retries"
                store.finish_run(t.id, res["status"], results=res.get("results"), history=res.get("history"),
                                 message=res.get("message"), traceback=res.get("traceback"),
                                 seconds=res.get("seconds"), artefacts=res.get("artefacts"))
                summary.ran.append(t.id)
                summary.statuses[t.id] = res["status"]
                done_count += 1
                if on_progress:
                    on_progress(done_count, summary.total, t.id, res["status"])
    finally:
        ex.close()
    try:
        from .report import write_sweep_report

        summary.report = str(write_sweep_report(store, plan.id))
    except Exception as exc:  # the rows are already safe; say why there is no report
        summary.report = f"not written ({type(exc).__name__}: {exc})"
    return summary

