"""bilateral study at smoke scale."""

from __future__ import annotations

import math

from plasticity.studies import get_study


def test_bilateral_smoke(tmp_path) -> None:
    study = get_study("bilateral")
    res = study.run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "bilateral.png").exists()
    scores = res.metrics["scores"]
    assert set(scores) == {"left_smoothness", "right_stability", "bilateral_no_callosum", "bilateral_callosal"}
    assert all(math.isfinite(v) for s in scores.values() for v in s.values())
    assert len(res.checks) == 4
    assert study.config("small")["joint"] is True
