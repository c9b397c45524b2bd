"""Sweeps: expand a grid and/or list of overrides over a base config; run trials on a process pool or Ray.

The driver is the only writer to the store: workers run ``run_trial`` (store-free, checkpointing into the
trial's folder) and return the outcome, which the driver records in one transaction. Trial ids are a
function of the sweep spec, so re-running a sweep skips finished (and diverged) trials and resumes the
interrupted or failed ones from their newest checkpoint.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
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


class _PoolExecutor(_Executor):
    def __init__(self, workers: int) -> None:
        import multiprocessing as mp

        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))

    def submit(self, payload: dict[str, Any]) -> Future:
        return self.pool.submit(run_trial, payload)

    def wait_any(self, pending: list[Any]) -> tuple[list[tuple[Any, dict[str, Any]]], list[Any]]:
        done, rest = wait(pending, return_when=FIRST_COMPLETED)
        out = []
        for f in done:
            try:
                out.append((f, f.result()))
            except BaseException as exc:  # worker process died
                out.append((f, {"status": "failed", "history": [], "results": {}, "seconds": 0.0, "artefacts": {},
                                "message": f"worker died: {type(exc).__name__}: {exc}",
                                "traceback": traceback.format_exc()}))
        return out, list(rest)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def require_ray() -> Any:
    """Import ``ray`` or raise a one-line ``ConfigError`` naming the optional extra."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs the optional extra: pip install 'plasticity[ray]'") from None
    return ray


class _RayExecutor(_Executor):
    def __init__(self, address: str | None, workers: int) -> None:
        ray = require_ray()
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        # workers import plasticity from the same source tree as the driver (matters for a source checkout)
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        self.remote = ray.remote(num_cpus=1, runtime_env={"env_vars": {"PYTHONPATH": path}})(run_trial)

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
                                  "artefacts": {}, "message": f"ray task failed: {exc}",
                                  "traceback": traceback.format_exc()}))
        return out, list(rest)

    def close(self) -> None:
        pass


def make_executor(kind: str, workers: int, address: str | None = None) -> _Executor:
    if kind == "process":
        return _PoolExecutor(workers)
    if kind == "ray":
        return _RayExecutor(address, workers)
    if kind == "inline":
        return _InlineExecutor()
    raise ConfigError(f"unknown executor {kind!r}; allowed: {', '.join(EXECUTORS)}")


def run_sweep(spec: str | Path | dict[str, Any] | SweepPlan, store: RunStore, *, workers: int = 2,
              executor: str = "process", address: str | None = None,
              on_progress: Callable[[int, int, str, str], None] | None = None) -> SweepSummary:
    """Run every unfinished trial of a sweep, at most ``workers`` at a time; only this process writes ``store``."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise ConfigError(f"workers={workers} is out of range; allowed: [1, inf)")
    if executor == "ray":
        require_ray()  # before anything is written
    plan = spec if isinstance(spec, SweepPlan) else load_sweep(spec)
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
    ex = make_executor(executor, workers, address)
    if executor == "inline":
        workers = 1
    in_flight: dict[Any, Trial] = {}
    queue = list(todo)
    sweep_dir = store.path.parent / "sweeps" / plan.id
    try:
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                t = queue.pop(0)
                run_dir = sweep_dir / t.id
                store.create_run(t.id, t.config.to_dict(), name=t.config.name, seed=t.config.seed, sweep_id=plan.id,
                                 config_hash=t.config.digest(), run_dir=str(run_dir))
                fut = ex.submit({"config": t.config.to_dict(), "run_dir": str(run_dir), "threads": 1})
                in_flight[fut] = t
            finished, _ = ex.wait_any(list(in_flight))
            for fut, res in finished:
                t = in_flight.pop(fut)
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
    except Exception:  # the report is a convenience; the rows are already safe
        pass
    return summary

