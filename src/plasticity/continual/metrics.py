"""Continual-learning metrics from the accuracy matrix R (Lopez-Paz & Ranzato 2017, GEM, Sec. 4).

``R[i, j]`` is the test accuracy on task j after training on tasks 0..i. With T tasks:
ACC = mean_j R[T-1, j]; BWT = mean_{j<T-1} (R[T-1, j] - R[j, j]) (negative = forgetting);
FWT = mean_{j>0} (R[j-1, j] - b_j) against the untrained accuracies b_j.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

ArrayLike = Sequence[Sequence[float]] | np.ndarray


def _square(r: ArrayLike) -> np.ndarray:
    a = np.asarray(r, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ConfigError(f"accuracy matrix R must be square T x T with T >= 1, got shape {a.shape}")
    return a


def average_accuracy(r: ArrayLike) -> float:
    """ACC: mean accuracy over all tasks after the last one was learned."""
    a = _square(r)
    return float(a[-1].mean())


def backward_transfer(r: ArrayLike) -> float:
    """BWT: mean change of each earlier task's accuracy between just after learning it and the end (0 for T=1)."""
    a = _square(r)
    t = a.shape[0]
    if t < 2:
        return 0.0
    return float(np.mean(a[-1, :-1] - np.diag(a)[:-1]))


def forward_transfer(r: ArrayLike, baseline: Sequence[float]) -> float:
    """FWT: mean accuracy on task j before training on it (after task j-1) minus the untrained accuracy b_j."""
    a = _square(r)
    b = np.asarray(baseline, dtype=float)
    if b.shape != (a.shape[0],):
        raise ConfigError(f"baseline must hold one accuracy per task ({a.shape[0]}), got shape {b.shape}")
    if a.shape[0] < 2:
        return 0.0
    return float(np.mean([a[j - 1, j] - b[j] for j in range(1, a.shape[0])]))


def forgetting(r: ArrayLike) -> float:
    """Mean over earlier tasks of (best accuracy ever reached - final accuracy) (Chaudhry et al. 2018)."""
    a = _square(r)
    if a.shape[0] < 2:
        return 0.0
    best = np.array([a[j:-1, j].max() for j in range(a.shape[0] - 1)])
    return float(np.mean(best - a[-1, :-1]))
