"""bilateral study at smoke scale: behavioural table for every model, declarative checks."""

from __future__ import annotations

import math

from plasticity.circuits.bilateral import HOLD_MEASURES, REACH_MEASURES
from plasticity.studies import get_study


def test_bilateral_smoke(tmp_path) -> None:
    study = get_study("bilateral")
    res = study.run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "bilateral.png").exists()
    table = res.metrics["behaviour"]
    assert set(table) == {"left_smoothness", "right_stability", "bilateral_no_callosum", "bilateral_callosal",
                          "bilateral_callosal_mixed"}
    gate = res.metrics["gate_left_weight"]
    assert set(gate) == {"reach_start", "hold_start", "mixed_reach_start", "mixed_hold_start"}
    assert all(set(row) == set(REACH_MEASURES + HOLD_MEASURES) for row in table.values())
    assert all(math.isfinite(v) for s in table.values() for v in s.values())
    assert "gated" in res.metrics["callosal_effect"]
    assert len(res.checks) == 6 and res.deviations
    assert study.config("paper")["joint"] is True
