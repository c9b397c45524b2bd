"""Build a run from a ``RunConfig`` and execute it durably (checkpoints, resume, divergence guard, store).

``execute`` is store-free (sweep workers call it and hand the outcome to the driver, the only store
writer); ``run_config`` / ``resume_run`` wrap it for a single run that writes the store itself.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.registry import load_dataset
from ..data.task import TaskData
from ..errors import ConfigError, DivergenceError, PlasticityError
from ..rules.base import LearningRule
from ..rules.registry import make_rule
from ..utils import resolve_device, seed_everything
from .checkpoint import Checkpointer, list_checkpoints, load_latest, restore_trainer
from .compare import build_model
from .config import RunConfig, validate_config
from .optim import make_optimizer
from .store import RunStore
from .trainer import Callback, Trainer


@dataclass
class Built:
    """The objects a config describes, ready for ``Trainer``."""

    model: torch.nn.Module
    rule: LearningRule
    optimizer: torch.optim.Optimizer
    data: TaskData
    scheduler: Any = None


_DATA_CACHE: dict[tuple[Any, ...], TaskData] = {}


def load_data(cfg: RunConfig) -> TaskData:
    """The config's dataset (md5-verified by the loaders), cut to ``n_train``/``n_test``; a request for more
    examples than the dataset holds is a ``ConfigError``, never a silent clip. Cached per process, so the
    pre-flight check and the run read the files once."""
    key = (cfg.data.name, cfg.data.data_dir, os.environ.get("PLASTICITY_DATA"), cfg.data.n_train, cfg.data.n_test)
    if key in _DATA_CACHE:
        return _DATA_CACHE[key]
    data = load_dataset(cfg.data.name, data_dir=cfg.data.data_dir)
    for k, have in (("n_train", data.x_train.shape[0]), ("n_test", data.x_test.shape[0])):
        want = getattr(cfg.data, k)
        if want is not None and want > have:
            raise ConfigError(f"data.{k}={want} is out of range; allowed: [1, {have}] for {cfg.data.name!r}")
    if cfg.data.n_train or cfg.data.n_test:
        data = data.subset(cfg.data.n_train, cfg.data.n_test)
    _DATA_CACHE.clear()
    _DATA_CACHE[key] = data
    return data


def _model(cfg: RunConfig, data: TaskData) -> torch.nn.Module:
    if cfg.model.kind == "mlp" and (cfg.model.activation != "relu" or not cfg.model.bias):
        from ..models import MLP

        return MLP([data.n_features, *cfg.model.hidden, data.n_outputs], activation=cfg.model.activation,
                   bias=cfg.model.bias)
    return build_model(cfg.model.kind, data, cfg.model.hidden)


def build(cfg: RunConfig, device: torch.device | None = None) -> Built:
    """Seed, load data, build model, rule and optimizer (in that order, so a resume rebuilds them identically)."""
    data = load_data(cfg)
    seed_everything(cfg.seed)
    model = _model(cfg, data)
    if device is not None:
        model = model.to(device)
    params = dict(cfg.rule.params)
    params.setdefault("seed", cfg.seed)
    try:
        rule = make_rule(cfg.rule.name, **params)
    except TypeError as exc:
        raise PlasticityError(f"rule.params for {cfg.rule.name!r} are invalid: {exc}") from None
    g = cfg.geometry
    opt = make_optimizer(g.name, model.parameters(), lr=g.lr, momentum=g.momentum, weight_decay=g.weight_decay,
                         **g.params)
    sched = None
    if cfg.training.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.training.epochs)
    return Built(model, rule, opt, data, sched)


class _Scheduler(Callback):
    def __init__(self, sched: Any) -> None:
        self.sched = sched

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        self.sched.step()


class _EpochHook(Callback):
    def __init__(self, fn: Callable[[Trainer, dict[str, float]], None]) -> None:
        self.fn = fn

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        self.fn(trainer, record)


@dataclass
class Outcome:
    """What one execution produced: final status, per-epoch history, final results, error text."""

    status: str
    history: list[dict[str, float]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    resumed_from: str | None = None
    artefacts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def final_results(history: list[dict[str, float]], trainer: Trainer | None = None) -> dict[str, Any]:
    """The last epoch's metrics (without timings) plus step count."""
    if not history:
        return {}
    last = {k: v for k, v in history[-1].items() if k not in ("seconds", "ms_per_step")}
    if trainer is not None:
        last["steps"] = trainer.global_step
    last["ms_per_step_mean"] = sum(h.get("ms_per_step", 0.0) for h in history) / len(history)
    return last


class _Terminated(BaseException):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def execute(cfg: RunConfig, run_dir: str | Path, *, resume: bool = True,
            on_epoch: Callable[[Trainer, dict[str, float]], None] | None = None,
            callbacks: list[Callback] | None = None, checkpoints: bool = True) -> Outcome:
    """Run ``cfg`` in ``run_dir`` (checkpoints in ``run_dir/checkpoints``), resuming from the newest valid
    checkpoint when ``resume``. Never raises for training failures: they come back as ``Outcome.status``
    ``failed``/``diverged``/``interrupted``; config errors still raise (nothing has run yet)."""
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    device = resolve_device(cfg.device)
    from .distributed import DistributedTrainer, init_from_env, world

    dp = cfg.training.data_parallel and init_from_env(device)
    rank = world()[0]
    b = build(cfg, device)
    extra = (lambda: {"scheduler": b.scheduler.state_dict()}) if b.scheduler is not None else None
    cbs: list[Callback] = []
    if b.scheduler is not None:
        cbs.append(_Scheduler(b.scheduler))
    if on_epoch is not None and rank == 0:
        cbs.append(_EpochHook(on_epoch))
    ckpt = None
    if checkpoints and rank == 0:
        ckpt = Checkpointer(run_dir / "checkpoints", every=cfg.training.checkpoint_every,
                            keep=cfg.training.keep_checkpoints, extra=extra,
                            max_overhead=cfg.training.checkpoint_overhead)
        cbs.append(ckpt)
    cbs.extend(callbacks or [])
    cls = DistributedTrainer if dp else Trainer
    trainer = cls(b.model, b.rule, b.optimizer, b.data, epochs=cfg.training.epochs,
                  batch_size=cfg.training.batch_size, device=device, seed=cfg.seed, callbacks=cbs,
                  check_divergence=cfg.training.check_divergence, eval_train=cfg.training.eval_train,
                  divergence_factor=cfg.training.divergence_factor)
    out = Outcome(status="running")
    if resume:
        found = load_latest(run_dir / "checkpoints")
        if found is None and list_checkpoints(run_dir / "checkpoints"):
            raise PlasticityError(f"every checkpoint in {str(run_dir / 'checkpoints')!r} is corrupt; "
                                  "nothing to resume from (start a new run)")
        if found is not None:
            state, path = found
            ex = restore_trainer(trainer, state)
            if b.scheduler is not None and "scheduler" in ex:
                b.scheduler.load_state_dict(ex["scheduler"])
            out.resumed_from = str(path)
    old = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    if old is not None:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        trainer.fit()
        out.status = "finished"
    except DivergenceError as exc:
        out.status, out.message = "diverged", str(exc)
    except (KeyboardInterrupt, _Terminated):
        out.status, out.message = "interrupted", "stopped by signal"
    except Exception as exc:
        out.status, out.message, out.traceback = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        if ckpt is not None:
            try:
                ckpt.wait()
            except Exception as exc:  # a run that cannot be resumed has not finished
                why = str(exc)
                if out.status == "finished":
                    out.status, out.message = "failed", why
                else:
                    out.message = (out.message or "") + f" ({why})"
    out.history = list(trainer.history)
    out.results = final_results(out.history, trainer)
    out.seconds = time.perf_counter() - t0
    if checkpoints:
        out.artefacts["checkpoints"] = str(run_dir / "checkpoints")
    return out


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def new_run_id(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "run"
    return f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def default_run_dir(store: RunStore, run_id: str) -> Path:
    return store.path.parent / run_id


def run_config(cfg: RunConfig, store: RunStore, *, run_id: str | None = None, run_dir: str | Path | None = None,
               callbacks: list[Callback] | None = None, report: bool = True, resume: bool = False) -> tuple[str, Outcome]:
    """Record a run in ``store``, execute it (epoch metrics logged as they come), record the outcome."""
    from .distributed import launch_rank
    from .paths import check_run_id, confine

    run_id = check_run_id(run_id or new_run_id(cfg.name))
    rdir = confine(run_dir if run_dir is not None else default_run_dir(store, run_id), store.path.parent,
                   f"run {run_id!r} folder")
    rank = launch_rank() if cfg.training.data_parallel else 0
    if rank == 0:
        store.create_run(run_id, cfg.to_dict(), name=cfg.name, seed=cfg.seed, config_hash=cfg.digest(),
                         run_dir=str(rdir))

    def log(trainer: Trainer, record: dict[str, float]) -> None:
        store.log_epoch(run_id, record, step=trainer.global_step)

    out = execute(cfg, rdir, resume=resume, on_epoch=log, callbacks=callbacks)
    if rank == 0:
        store.finish_run(run_id, out.status, results=out.results, history=out.history, message=out.message,
                         traceback=out.traceback, seconds=out.seconds, artefacts=out.artefacts)
        if report and out.history:
            from .report import write_run_report

            try:
                path = write_run_report(store, run_id)
                store.add_artefact(run_id, "report", path)
            except Exception as exc:  # a report must never lose a finished run
                out.message = (out.message or "") + f" (report failed: {exc})"
    return run_id, out


def resume_run(store: RunStore, run_id: str, *, callbacks: list[Callback] | None = None,
               report: bool = True) -> tuple[str, Outcome]:
    """Continue run ``run_id`` from its newest valid checkpoint with its stored config."""
    from .distributed import launch_rank

    store.mark_stale()
    run = store.require_run(run_id)
    if launch_rank() != 0:  # a data-parallel follower: rank 0 checks and records the run
        return run_config(validate_config(run["config"]), store, run_id=run_id, callbacks=callbacks, report=False,
                          resume=True, run_dir=store.run_dir(run))
    run = check_resumable(store, run_id)
    cfg = validate_config(run["config"])
    return run_config(cfg, store, run_id=run_id, run_dir=store.run_dir(run), callbacks=callbacks, report=report,
                      resume=True)


def check_resumable(store: RunStore, run_id: str) -> dict[str, Any]:
    """The run's row, if it can be resumed: not running or finished, its folder inside the store's folder, and
    a valid checkpoint there (a run without one is an error, never a silent restart from step 0)."""
    from .checkpoint import CheckpointError, decode
    from .paths import check_run_id

    run = store.require_run(check_run_id(run_id))
    if run["status"] == "running":
        raise PlasticityError(f"run {run_id!r} is still running (pid {run['pid']}); wait or stop it first")
    if run["status"] == "finished":
        raise PlasticityError(f"run {run_id!r} already finished; nothing to resume")
    folder = store.run_dir(run) / "checkpoints"
    files = list_checkpoints(folder)
    newest = ""
    for path in reversed(files):
        try:
            decode(path.read_bytes(), str(path))
        except (CheckpointError, OSError) as exc:
            newest = newest or str(exc)
            continue
        validate_config(run["config"])
        return run
    if not files:
        raise PlasticityError(f"run {run_id!r} cannot be resumed: it has no checkpoint in {str(folder)!r}; "
                              "start it again with `plasticity run`")
    raise PlasticityError(f"run {run_id!r} cannot be resumed: no valid checkpoint ({len(files)} rejected; newest: "
                          f"{newest}); start it again with `plasticity run`")


def interrupted_exit_code(out: Outcome) -> int:
    """CLI exit code for an outcome: 0 finished, 1 failed/diverged, 130 interrupted."""
    return {"finished": 0, "interrupted": 130}.get(out.status, 1)


__all__ = ["Built", "Outcome", "build", "check_buildable", "check_resumable", "execute", "load_data", "new_run_id",
           "resume_run", "run_config"]


def check_buildable(cfg: RunConfig, memory_fraction: float = 0.5) -> None:
    """Pre-flight before the store is touched: the data files load (md5-verified) and hold enough examples, the
    model builds (on the meta device: no memory) and its parameters fit in ``memory_fraction`` of RAM, the rule
    accepts its params and the optimizer its settings, the device exists. Any failure is one ``ConfigError``."""
    resolve_device(cfg.device)
    data = load_data(cfg)
    try:
        with torch.device("meta"):
            model = _model(cfg, data)
    except PlasticityError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"model {cfg.model.kind!r} with hidden={cfg.model.hidden} cannot be built for "
                          f"{cfg.data.name!r}: {exc}") from None
    n = sum(p.numel() for p in model.parameters())
    need = 4 * n * 4  # float32 weights, gradients, optimizer state and a checkpoint copy
    total = _ram_bytes()
    if total and need > memory_fraction * total:
        raise ConfigError(f"model.hidden={cfg.model.hidden} gives {n:,} parameters (~{need / 2**30:.1f} GiB to "
                          f"train), more than {memory_fraction:.0%} of this machine's {total / 2**30:.1f} GiB; "
                          "use smaller layers")
    size = int(os.environ.get("WORLD_SIZE", "1"))
    last = data.x_train.shape[0] % cfg.training.batch_size
    if cfg.training.data_parallel and size > 1 and 0 < last < size:
        raise ConfigError(f"data parallel over {size} processes: the last batch holds {last} example(s), fewer "
                          "than the processes; change training.batch_size or data.n_train")
    params = dict(cfg.rule.params)
    params.setdefault("seed", cfg.seed)
    try:
        make_rule(cfg.rule.name, **params)
    except TypeError as exc:
        raise PlasticityError(f"rule.params for {cfg.rule.name!r} are invalid: {exc}") from None
    g = cfg.geometry
    dummy = [torch.nn.Parameter(torch.zeros(1))]
    make_optimizer(g.name, dummy, lr=g.lr, momentum=g.momentum, weight_decay=g.weight_decay, **g.params)


def _ram_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0
