"""Study ``polarity``: the reference's XOR data, sign rule and frozen polarity; smoke run of both parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from plasticity.data import has_dataset
from plasticity.studies import get_study
from plasticity.studies.polarity import (
    epochs_to_cutoff,
    error_at_convergence,
    init_xor,
    train_xor,
    xor_quadrants,
    xor_signs,
)


def test_polarity_smoke(tmp_path: Path) -> None:
    study = get_study("polarity")
    over = {} if has_dataset("fashion-mnist") and has_dataset("mnist") else {"transfer": False}
    res = study.run("smoke", out_dir=tmp_path, quiet=True, **over)
    assert (tmp_path / "polarity.png").exists()
    xor = res.metrics["xor"]
    for h in xor["widths"]:
        for cond in ("free", "informed", "random"):
            n = len(xor["sizes"]) if h == study.config("smoke")["focus_width"] else 1  # sweep: largest n only
            assert len(xor[str(h)][cond]["p95"]) == n
            assert all(0.0 <= e <= 1.0 for e in xor[str(h)][cond]["err_conv"])
    assert len(res.checks) == (4 if over else 6)
    assert res.deviations and study.config("small")["runs"] >= 5


def test_xor_quadrants_follow_the_reference() -> None:
    x, y = xor_quadrants(402, 5, torch.Generator().manual_seed(0))
    assert x.shape == (400, 5) and y.shape == (400,)                 # floor(n/4) per cluster
    xy = x[:, :2]
    assert not ((xy >= 0) & (xy < 0.05)).any() and (xy >= -1).all() and (xy < 1.05).all()  # the 0.05 gap
    same = (x[:, 0] > 0) == (x[:, 1] > 0)
    assert torch.equal(same.float(), y)                               # label 1 on the same-sign quadrants
    assert abs(float(x[:, 2:].mean()) - 1.0) < 0.2                   # N(1, 1) noise dimensions


def test_informed_sign_rule_and_frozen_training() -> None:
    gen = torch.Generator().manual_seed(0)
    start = init_xor(3, 8, 5, gen)
    assert start[0].abs().max() <= 0.5 + 1e-6                        # truncated normal, 2 std of 0.25
    s1, s2 = xor_signs(start, "informed")
    assert torch.equal(s1, torch.where(start[0] < 0, -1.0, 1.0))
    assert torch.equal(s2[:, 0], torch.sign(start[0][:, :, 0] * start[0][:, :, 1]))
    assert xor_signs(start, "free") is None
    x, y = xor_quadrants(64, 5, gen)
    xv, yv = xor_quadrants(100, 5, gen)
    cfg = {"lr": 0.03, "batch_size": 32, "epochs": 3, "reset_epsilon": 1e-3}
    acc, loss = train_xor(start, [s1, s2], x, y, xv, yv, cfg, gen)
    assert acc.shape == (3, 3) and loss.shape == (3, 3)


def test_cutoff_and_convergence_helpers() -> None:
    acc = np.array([[0.5, 0.9, 0.95], [0.1, 0.2, 0.3]])
    assert np.array_equal(epochs_to_cutoff(acc, 0.9), [2.0, np.inf])
    loss = np.array([[1.0, 0.2, 0.5], [0.3, 0.4, 0.5]])
    assert np.allclose(error_at_convergence(acc, loss), [0.1, 0.9])
