"""Continual learning: task sequences, the accuracy matrix and its metrics, orthogonal projection (HLOP)."""

from .activity import activity_rows, collect_activity, layer_input_dim
from .metrics import average_accuracy, backward_transfer, forgetting, forward_transfer
from .projection import HLOP, ContinualMethod, FineTune, OnlineHLOP, SVDProjection
from .runner import ContinualResult, evaluate_tasks, run_continual, sgd
from .spiking import SpikingHLOPMLP, reference_lif
from .subspace import HebbianSubspace, captured_energy, principal_angles, svd_components
from .tasks import SEQUENCES, TaskSequence, make_task_sequence, permuted_tasks, split_tasks

METHODS = {"finetune": FineTune, "svd": SVDProjection, "hlop": HLOP, "hlop-online": OnlineHLOP}

__all__ = [
    "HLOP",
    "METHODS",
    "SEQUENCES",
    "ContinualMethod",
    "ContinualResult",
    "FineTune",
    "HebbianSubspace",
    "OnlineHLOP",
    "SVDProjection",
    "SpikingHLOPMLP",
    "TaskSequence",
    "activity_rows",
    "average_accuracy",
    "backward_transfer",
    "captured_energy",
    "collect_activity",
    "evaluate_tasks",
    "forgetting",
    "forward_transfer",
    "layer_input_dim",
    "make_task_sequence",
    "permuted_tasks",
    "principal_angles",
    "reference_lif",
    "run_continual",
    "sgd",
    "split_tasks",
    "svd_components",
]
