"""bilateral study at smoke scale: behavioural table for every model, declarative checks, both protocols."""

from __future__ import annotations

import math

import pytest

from plasticity.circuits.bilateral import HOLD_MEASURES, REACH_MEASURES
from plasticity.errors import ConfigError
from plasticity.studies import get_study


def _finite_table(table: dict) -> bool:
    return all(set(row) == set(REACH_MEASURES + HOLD_MEASURES) for row in table.values()) and all(
        math.isfinite(v) for s in table.values() for v in s.values())


def test_bilateral_smoke_reference_protocol(tmp_path) -> None:
    study = get_study("bilateral")
    res = study.run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "bilateral.png").exists()
    m = res.metrics
    assert m["model"] == "reference"
    assert set(m["behaviour"]) == {"left", "right", "bilateral_no_callosum", "bilateral_callosal"}
    assert _finite_table(m["behaviour"]) and set(m["callosal_effect"]) == {"bilateral"}
    # one dual-loss model per task, its two mixing weights kept non-negative
    assert all(w >= 0 for model in m["mix_weights"].values() for task in model.values() for w in task)
    assert set(m["objective"]["left"]) == {"reach_left", "reach_right", "hold_left", "hold_right"}
    assert len(res.checks) == 6 and res.deviations


def test_bilateral_smoke_gated_protocol(tmp_path) -> None:
    res = get_study("bilateral").run("small-gated", out_dir=tmp_path, quiet=True, steps=15, iters=6, gate_iters=4,
                                     batch=8, eval_batch=16, hidden=8)
    m = res.metrics
    assert set(m["behaviour"]) == {"left", "right", "bilateral_no_callosum", "bilateral_callosal",
                                   "bilateral_callosal_mixed"}
    assert set(m["gate_left_weight"]) == {"reach_start", "hold_start", "mixed_reach_start", "mixed_hold_start"}
    assert _finite_table(m["behaviour"]) and len(res.checks) == 6


def test_unknown_model_is_one_line(tmp_path) -> None:
    with pytest.raises(ConfigError) as e:
        get_study("bilateral").run("smoke", out_dir=tmp_path, model="dual")
    assert "model" in str(e.value) and "reference" in str(e.value) and "\n" not in str(e.value)
