"""scikit-learn's 8x8 digits (ships offline): the default dataset, with a fixed stratified split."""

from __future__ import annotations

import numpy as np
import torch

from .task import TaskData


def load_digits(test_fraction: float = 0.2, split_seed: int = 0) -> TaskData:
    """1797 8x8 grey digits scaled to [0, 1]; stratified split (default 1437 train / 360 test)."""
    from sklearn.datasets import load_digits as _sk_load_digits  # lazy: scikit-learn costs ~1 s to import
    from sklearn.model_selection import train_test_split

    d = _sk_load_digits()
    x = (d.data / 16.0).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_fraction, random_state=split_seed,
                                          stratify=d.target)
    return TaskData("digits", torch.from_numpy(xtr).view(-1, 1, 8, 8), torch.from_numpy(ytr).long(),
                    torch.from_numpy(xte).view(-1, 1, 8, 8), torch.from_numpy(yte).long(), (1, 8, 8), 10)
