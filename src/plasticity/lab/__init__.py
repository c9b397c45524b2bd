"""The lab: training loop, validated configs, run store, checkpoints, sweeps, data parallelism and reports."""

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
