from __future__ import annotations

import numpy as np
import pytest

from plasticity.studies import get_study
from plasticity.studies.disinhibition import zero_crossings


def test_zero_crossings_direction():
    x = np.linspace(0, 3, 31)
    cross = zero_crossings(x, np.cos(x * np.pi / 2))              # + to − at 1, − to + at 3 (endpoint excluded)
    assert len(cross) == 1 and cross[0][1] == -1 and cross[0][0] == pytest.approx(1.0, abs=1e-2)


def test_disinhibition_smoke(tmp_path):
    res = get_study("disinhibition").run(scale="smoke", out_dir=tmp_path, quiet=True)
    m = res.metrics
    for t in res.config["targets"]:
        assert m[f"flip_rate_target_{t:g}"] == pytest.approx(t, rel=0.05)
        assert m[f"n_flips_target_{t:g}"] == 1
    assert m["bcm_threshold"] is not None and m["bcm_min_dw"] < 0 < m["bcm_max_dw"]
    assert 0.5 < m["acc_xor5d_disinhibition"] <= 1.0 and 0.5 < m["acc_xor5d_bp"] <= 1.0
    names = [c.name for c in res.checks]
    assert len(names) == len(res.config["targets"]) + 1 + 2 * len(res.config["datasets"])
    assert 0.3 < m["acc_xor5d_readout"] <= 1.0
    assert all(c.passed for c in res.checks[:3])                   # the single-synapse checks
    assert (tmp_path / "disinhibition.png").exists() and (tmp_path / "results.json").exists()
