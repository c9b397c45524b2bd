"""Deterministic minibatches: epoch e of seed s always yields the same order, so a run can resume mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch`` (CPU tensor), a pure function of (n, seed, epoch)."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0, epoch: int = 0,
            shuffle: bool = True, start: int = 0, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x_b, y_b)`` minibatches; ``start`` skips the first ``start`` batches (for resuming)."""
    n = x.shape[0]
    if n != y.shape[0]:
        raise ValueError(f"x has {n} samples but y has {y.shape[0]}")
    order = epoch_permutation(n, seed, epoch).to(x.device) if shuffle else torch.arange(n, device=x.device)
    stop = n - (n % batch_size) if drop_last else n
    for i in range(start * batch_size, stop, batch_size):
        idx = order[i : i + batch_size]
        yield x[idx], y[idx]


def n_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Number of batches per epoch."""
    return n // batch_size if drop_last else -(-n // batch_size)
