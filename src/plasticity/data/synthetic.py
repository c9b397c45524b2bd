"""Seeded synthetic tasks: student-teacher regression and XOR-5D (Wang et al. 2023, polarity)."""

from __future__ import annotations

import torch

from ..errors import check_range
from .task import TaskData


def student_teacher(n_train: int = 250, n_test: int = 1000, d_in: int = 20, d_hidden: int = 199, d_out: int = 1,
                    nonlinear: bool = False, noise: float = 0.0, seed: int = 0) -> TaskData:
    """Targets from a random teacher ``W2 f(W1 x)`` (f = tanh if ``nonlinear`` else identity); Gaussian inputs."""
    for k, v in dict(n_train=n_train, d_in=d_in, d_hidden=d_hidden, d_out=d_out).items():
        check_range(k, v, 1)
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(d_hidden, d_in, generator=g) / d_in**0.5
    w2 = torch.randn(d_out, d_hidden, generator=g) / d_hidden**0.5
    x = torch.randn(n_train + n_test, d_in, generator=g)
    h = x @ w1.t()
    h = torch.tanh(h) if nonlinear else h
    y = h @ w2.t() + noise * torch.randn(n_train + n_test, d_out, generator=g)
    return TaskData("student_teacher", x[:n_train], y[:n_train], x[n_train:], y[n_train:], (d_in,), 0)


def xor5d(n_train: int = 1000, n_test: int = 1000, noise_dims: int = 3, seed: int = 0) -> TaskData:
    """XOR of the signs of two uniform[-1,1] inputs, plus ``noise_dims`` irrelevant uniform inputs (5D total)."""
    check_range("n_train", n_train, 1)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_train + n_test, 2 + noise_dims, generator=g) * 2 - 1
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
    return TaskData("xor5d", x[:n_train], y[:n_train], x[n_train:], y[n_train:], (2 + noise_dims,), 2)
