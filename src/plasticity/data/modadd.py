"""Modular addition ``(a + b) mod p`` as a classification task (grokking / Fourier-feature studies).

Inputs are the integer pairs ``(a, b)`` (``encoding="pairs"``, for embedding-style models) or the concatenated
one-hot codes ``[e_a, e_b]`` (``encoding="onehot"``, for an MLP). A seeded split keeps ``train_frac`` of all
``p**2`` pairs for training and the rest for testing (He et al. 2025; Power et al. 2022).
"""

from __future__ import annotations

import torch

from ..errors import check_choice, check_range
from .task import TaskData

ENCODINGS = ("pairs", "onehot")


def modular_addition(p: int = 97, train_frac: float = 1.0, seed: int = 0, encoding: str = "pairs") -> TaskData:
    """All pairs ``(a, b)`` in ``[0, p)^2`` labelled ``(a + b) % p``; ``train_frac`` of them (seeded) train.

    With ``train_frac=1`` the test set is the full table again (the "full data" protocol).
    """
    check_range("p", p, 2)
    check_range("train_frac", train_frac, 0.0, 1.0, low_inclusive=False)
    check_choice("encoding", encoding, ENCODINGS)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    pairs = torch.stack([a.reshape(-1), b.reshape(-1)], dim=1)
    y = (pairs[:, 0] + pairs[:, 1]) % p
    x = one_hot_pairs(pairs, p) if encoding == "onehot" else pairs
    n = p * p
    if train_frac >= 1.0:
        return TaskData(f"modadd{p}", x, y, x.clone(), y.clone(), tuple(x.shape[1:]), p)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=g)
    n_train = max(1, round(train_frac * n))
    tr, te = order[:n_train], order[n_train:]
    return TaskData(f"modadd{p}", x[tr], y[tr], x[te], y[te], tuple(x.shape[1:]), p)


def one_hot_pairs(pairs: torch.Tensor, p: int) -> torch.Tensor:
    """``(N, 2)`` integer pairs -> ``(N, 2p)`` float ``[e_a, e_b]``."""
    eye = torch.eye(p, device=pairs.device)
    return torch.cat([eye[pairs[:, 0]], eye[pairs[:, 1]]], dim=1)
