from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plasticity.studies import get_study
from plasticity.studies.curl import critical_fraction, train_flipped


def test_critical_fraction_midpoint():
    fr = [0.0, 0.1, 0.2, 0.3]
    ratios = np.array([[1e-9, 1e-9], [1e-8, 1e-7], [1e-2, np.inf], [np.inf, np.inf]])
    assert critical_fraction(fr, ratios, 1e-3) == pytest.approx(0.15)
    assert critical_fraction(fr, np.full((4, 2), 1e-9), 1e-3) == 0.3       # never fails: the largest tried
    assert critical_fraction(fr, np.full((4, 2), np.inf), 1e-3) == 0.0


def test_train_flipped_reports_first_step_below_tolerance():
    cpu = torch.device("cpu")
    r = train_flipped(5, 30, False, 0.0, "outgoing", 0, 300, 0.1, 50, cpu, hit_tol=1e-2)
    assert r["final"] < 1e-3 * r["initial"] and 0 < r["hit"] < 300
    small = train_flipped(5, 30, True, 0.0, "outgoing", 0, 3, 0.1, 50, cpu, init_scale=1e-3)
    assert math.isinf(small["hit"]) and small["final"] == pytest.approx(small["initial"], rel=1e-2)  # at the saddle


def test_curl_smoke(tmp_path):
    res = get_study("curl").run(scale="smoke", out_dir=tmp_path, quiet=True)
    m = res.metrics
    assert m["linear_low_max_ratio"] is not None and m["linear_low_max_ratio"] < 1e-3   # few flips: still learns
    hi = m["linear_high_min_ratio"]
    assert hi is None or hi > 0.1                                                      # many flips: fails
    assert len(m["critical_fraction_vs_expansion"]) == len(res.config["expansion_inputs"])
    assert all(math.isfinite(c) for c in m["critical_fraction_vs_expansion"])
    sad = m["saddle"]
    assert len(sad["final_ratio"]) == len(res.config["saddle_fractions"]) == len(m["saddle_median_final_ratio"])
    assert len(res.checks) == 5 + 1
    assert (tmp_path / "phase.png").exists()
