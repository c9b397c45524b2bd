"""Datasets (digits, MNIST, Fashion-MNIST) and seeded synthetic tasks, as in-memory tensors."""

from .batches import batches
from .digits import load_digits
from .download import download
from .graphs import graph_pair_task, random_digraph_distances
from .idx import IDX_FILES, has_dataset, load_idx_dataset, read_idx, resolve_data_dir
from .modadd import modular_addition, one_hot_pairs
from .registry import DATASETS, load_dataset, n_test_examples
from .synthetic import student_teacher, xor5d
from .task import TaskData

__all__ = [
    "DATASETS",
    "IDX_FILES",
    "TaskData",
    "batches",
    "download",
    "graph_pair_task",
    "has_dataset",
    "load_dataset",
    "load_digits",
    "load_idx_dataset",
    "modular_addition",
    "n_test_examples",
    "one_hot_pairs",
    "random_digraph_distances",
    "read_idx",
    "resolve_data_dir",
    "student_teacher",
    "xor5d",
]
