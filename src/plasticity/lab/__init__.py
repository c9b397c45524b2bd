"""The lab: the training loop and (later) configs, run store, checkpoints, sweeps and reports."""

from .trainer import Callback, Trainer, evaluate

__all__ = ["Callback", "Trainer", "evaluate"]
