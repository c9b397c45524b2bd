"""Name -> dataset loader for configs and the CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import check_choice
from .digits import load_digits
from .idx import load_idx_dataset
from .modadd import modular_addition
from .synthetic import student_teacher, xor5d
from .task import TaskData

DATASETS: dict[str, Callable[..., TaskData]] = {
    "digits": lambda data_dir=None, **kw: load_digits(**kw),
    "mnist": lambda data_dir=None, **kw: load_idx_dataset("mnist", data_dir, **kw),
    "fashion-mnist": lambda data_dir=None, **kw: load_idx_dataset("fashion-mnist", data_dir, **kw),
    "student_teacher": lambda data_dir=None, **kw: student_teacher(**kw),
    "xor5d": lambda data_dir=None, **kw: xor5d(**kw),
    "modadd": lambda data_dir=None, **kw: modular_addition(**{"encoding": "onehot", **kw}),
}


_TEST_SIZES = {"mnist": 10_000, "fashion-mnist": 10_000, "digits": 360}


def n_test_examples(name: str) -> int:
    """Size of a classification dataset's whole test split, without loading it (digits: the default 20 % split),
    for the evaluation-noise margin of study checks."""
    return _TEST_SIZES[check_choice("dataset", name, _TEST_SIZES)]


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, **kwargs: Any) -> TaskData:
    """Load dataset ``name`` (see ``DATASETS``); file-based ones read ``data_dir`` / ``$PLASTICITY_DATA``."""
    return DATASETS[check_choice("dataset", name, DATASETS)](data_dir=data_dir, **kwargs)
