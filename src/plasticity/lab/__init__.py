"""The lab: training loop, validated configs, run store, checkpoints, sweeps, data parallelism and reports.

Names load on first use (PEP 562), so light modules (``lab.store``, ``lab.sweep``, ``lab.paths``) import without
torch: the CLI starts fast and a sweep worker can arm its die-with-the-driver guard before importing torch.
"""

from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    **dict.fromkeys(("Checkpointer", "load_latest", "save_checkpoint"), "checkpoint"),
    **dict.fromkeys(("RunConfig", "load_config", "validate_config"), "config"),
    **dict.fromkeys(("DistributedTrainer", "GradAllReduce"), "distributed"),
    **dict.fromkeys(("make_optimizer", "register_optimizer"), "optim"),
    **dict.fromkeys(("write_run_report", "write_study_report", "write_sweep_report"), "report"),
    **dict.fromkeys(("execute", "resume_run", "run_config"), "runner"),
    **dict.fromkeys(("RunStore", "StoreError", "open_store"), "store"),
    **dict.fromkeys(("load_sweep", "run_sweep"), "sweep"),
    **dict.fromkeys(("Callback", "Trainer", "evaluate"), "trainer"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'plasticity.lab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:
    from .checkpoint import Checkpointer, load_latest, save_checkpoint
    from .config import RunConfig, load_config, validate_config
    from .distributed import DistributedTrainer, GradAllReduce
    from .optim import make_optimizer, register_optimizer
    from .report import write_run_report, write_study_report, write_sweep_report
    from .runner import execute, resume_run, run_config
    from .store import RunStore, StoreError, open_store
    from .sweep import load_sweep, run_sweep
    from .trainer import Callback, Trainer, evaluate

__all__ = [
    "Callback",
    "Checkpointer",
    "DistributedTrainer",
    "GradAllReduce",
    "RunConfig",
    "RunStore",
    "StoreError",
    "Trainer",
    "evaluate",
    "execute",
    "load_config",
    "load_latest",
    "load_sweep",
    "make_optimizer",
    "open_store",
    "register_optimizer",
    "resume_run",
    "run_config",
    "run_sweep",
    "save_checkpoint",
    "validate_config",
    "write_run_report",
    "write_study_report",
    "write_sweep_report",
]
