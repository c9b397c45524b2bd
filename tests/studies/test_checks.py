"""Declarative checks: targets from paper_values, the reference guard, seed verdicts."""

from __future__ import annotations

import pytest

from plasticity.errors import ConfigError
from plasticity.studies import FAIL, INCONCLUSIVE, PASS, Check, paper
from plasticity.studies.base import verdict

VALUES = {"acc": 0.98, "bp": 0.99, "claim": True}


def test_target_is_read_from_paper_values() -> None:
    r = Check("acc", 0.975, ">=", paper("acc"), tol=0.01).evaluate(VALUES)
    assert r.status == PASS and r.source == "acc" and "0.98" in r.paper
    assert Check("acc", 0.95, ">=", paper("acc"), tol=0.01).evaluate(VALUES).status == FAIL


def test_paper_value_arithmetic() -> None:
    r = Check("gap", -0.5, "~", 100 * (paper("acc") - paper("bp")), tol=0.6).evaluate(VALUES)
    assert r.status == PASS and "acc - bp" in r.source


def test_unknown_paper_key_names_it() -> None:
    with pytest.raises(ConfigError, match="'nope'"):
        Check("x", 1.0, ">", paper("nope")).evaluate(VALUES)


def test_guard_makes_comparison_inconclusive_when_reference_did_not_learn() -> None:
    # both at chance: "within 2 points" would pass without the guard
    c = Check("EP within 2 points of BP", -1.0, ">=", -2.0, reference=0.14, floor=0.5, reference_name="BP acc")
    r = c.evaluate(VALUES)
    assert r.status == INCONCLUSIVE and not r.passed and "BP acc" in r.detail
    ok = Check("EP within 2 points of BP", -1.0, ">=", -2.0, reference=0.9, floor=0.5).evaluate(VALUES)
    assert ok.status == PASS


def test_every_extra_guard_must_clear_its_floor() -> None:
    base = dict(reference=0.8, floor=0.5, reference_name="no-transfer acc")
    bad = Check("polarity beats none", 0.01, ">", 0.0, guards=(("weight-transfer gain", 0.002, 0.01),), **base)
    r = bad.evaluate(VALUES)
    assert r.status == INCONCLUSIVE and "weight-transfer gain" in r.note and "no-transfer acc" in r.detail
    good = Check("polarity beats none", 0.01, ">", 0.0, guards=(("weight-transfer gain", 0.03, 0.01),), **base)
    assert good.evaluate(VALUES).status == PASS


def test_reference_and_floor_go_together() -> None:
    with pytest.raises(ConfigError, match="reference and floor"):
        Check("x", 1.0, ">", 0.0, reference=0.5)


def test_bad_op_and_nonfinite_value() -> None:
    with pytest.raises(ConfigError, match="op"):
        Check("x", 1.0, "=>", 0.0)
    assert Check("x", float("nan"), ">", 0.0).evaluate(VALUES).status == FAIL
    assert Check("x", None, ">", 0.0).evaluate(VALUES).status == FAIL


def test_true_op() -> None:
    assert Check("claim", True, "true", paper("claim")).evaluate(VALUES).status == PASS
    assert Check("claim", False, "true").evaluate(VALUES).status == FAIL


def test_verdict_order() -> None:
    assert verdict([PASS, PASS]) == PASS
    assert verdict([PASS, INCONCLUSIVE]) == INCONCLUSIVE
    assert verdict([INCONCLUSIVE, FAIL]) == FAIL
    assert verdict([]) == FAIL
