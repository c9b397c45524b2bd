"""Study ``polarity`` at smoke scale: runs, writes the curve, frozen polarity holds during training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from plasticity.studies import get_study
from plasticity.studies.polarity import _data, _init, epochs_to_cutoff, train_stack


def test_polarity_smoke(tmp_path: Path) -> None:
    res = get_study("polarity").run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "polarity.png").exists()
    m = res.metrics
    for cond in ("free", "informed", "random"):
        assert len(m[cond]["success"]) == len(m["sizes"])
        assert all(0.0 <= a <= 1.0 for a in m[cond]["final_acc"])
    assert len(res.checks) == 2


def test_train_stack_keeps_signs_and_cutoff() -> None:
    dev = torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    start = _init(2, 8, gen, dev)
    signs = [torch.where(start[i] < 0, -1.0, 1.0) for i in (0, 2)]
    cfg = {"lr": 0.2, "momentum": 0.9, "batch_size": 16, "reset": "zero"}
    acc, ps = train_stack(start, _data(2, 64, 100, 0, dev), 3, cfg, signs, seed=0)
    assert acc.shape == (2, 3)
    for i, s in zip((0, 2), signs, strict=True):
        assert torch.all(ps[i] * s >= 0)
    assert np.array_equal(epochs_to_cutoff(np.array([[0.5, 0.9, 0.95], [0.1, 0.2, 0.3]]), 0.9), [2.0, np.inf])


def test_samples_needed_interpolates() -> None:
    from plasticity.studies.polarity import samples_needed

    assert samples_needed([10, 100], [0.0, 1.0]) == pytest.approx(10 ** 1.5)
    assert samples_needed([10, 100], [0.6, 1.0]) == 10.0
    assert samples_needed([10, 100], [0.0, 0.4]) is None
