"""Declarative checks: targets from paper_values, the reference guard, seed verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.studies import FAIL, INCONCLUSIVE, PASS, Check, paper
from plasticity.studies.base import verdict
from plasticity.studies.checks import accuracy_diff_se, accuracy_se

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


def test_a_difference_inside_the_noise_is_inconclusive() -> None:
    """Devices paper, seed 0: uni 0.8824 vs bi 0.8804 on 10k images differ by 0.2 points, s.e. ~0.46 points."""
    se = accuracy_diff_se(0.8824, 0.8804, 10_000)
    assert se == pytest.approx(0.00457, abs=1e-4)
    r = Check("uni - bi", 0.002, ">", 0.0, se=se).evaluate(VALUES)
    assert r.status == INCONCLUSIVE and "inside the noise" in r.note and "2 s.e." in r.paper
    assert Check("uni - bi", 0.02, ">", 0.0, se=se).evaluate(VALUES).status == PASS
    assert Check("uni - bi", -0.02, ">", 0.0, se=se).evaluate(VALUES).status == FAIL


def test_noise_zone_sits_at_the_tolerance_edge() -> None:
    se = 100 * accuracy_se(0.98, 10_000)  # 0.14 points
    # "DFA within 1 point of BP": -0.5 clears -1 by 0.5 > 2 s.e.; -0.9 is inside the noise; -1.5 fails
    assert Check("gap", -0.5, ">=", -1.0, se=se).evaluate(VALUES).status == PASS
    assert Check("gap", -0.9, ">=", -1.0, se=se).evaluate(VALUES).status == INCONCLUSIVE
    assert Check("gap", -1.5, ">=", -1.0, se=se).evaluate(VALUES).status == FAIL
    assert Check("err", 1.2, "<=", 1.0, tol=0.25, se=se).evaluate(VALUES).status == INCONCLUSIVE
    assert Check("err", 0.9, "<=", 1.0, tol=0.25, se=se).evaluate(VALUES).status == PASS
    assert Check("d", 0.05, "~", 0.0, tol=1.0, se=0.1).evaluate(VALUES).status == PASS
    assert Check("d", 0.95, "~", 0.0, tol=1.0, se=0.1).evaluate(VALUES).status == INCONCLUSIVE
    assert Check("gap", -0.9, ">=", -1.0, se=0.0).evaluate(VALUES).status == PASS  # se 0: no noise zone


def test_bad_noise_margin_names_the_key() -> None:
    with pytest.raises(ConfigError, match="se=-1"):
        Check("x", 1.0, ">", 0.0, se=-1.0)
    with pytest.raises(ConfigError, match="se="):
        Check("x", True, "true", se=0.1)
    with pytest.raises(ConfigError, match="z=0"):
        Check("x", 1.0, ">", 0.0, se=0.1, z=0.0)
    with pytest.raises(ConfigError, match="positive evaluation size"):
        accuracy_diff_se(0.9, 0.8, 0)


def test_paired_diff_se_is_the_sd_of_per_example_differences() -> None:
    """Two models that err on the same examples: the paired s.e. is far below the unpaired binomial one."""
    from plasticity.studies.checks import paired_diff_se

    rng = np.random.default_rng(0)
    a = rng.random(10_000) < 0.88
    b = a.copy()
    flip = rng.choice(10_000, 300, replace=False)           # 3 % discordant examples
    b[flip] = ~b[flip]
    se = paired_diff_se(a, b)
    d = a.astype(float) - b.astype(float)
    assert se == pytest.approx(d.std(ddof=1) / 100.0)
    assert se < 0.5 * accuracy_diff_se(a.mean(), b.mean(), 10_000)
    # replicates are averaged per example first: two identical replicates give the single-replicate s.e.
    assert paired_diff_se(np.stack([a, a]), torch.tensor(np.stack([b, b]))) == pytest.approx(se)


def test_paired_diff_se_rejects_mismatched_results() -> None:
    from plasticity.studies.checks import paired_diff_se

    with pytest.raises(ConfigError, match="same length"):
        paired_diff_se(np.ones(10), np.ones(9))


def test_replicate_diff_se_adds_training_noise_to_evaluation_noise() -> None:
    from plasticity.studies.checks import replicate_diff_se

    a, b = [0.90, 0.92, 0.94], [0.80, 0.86, 0.92]
    want = (0.03**2 + np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 3) ** 0.5
    assert replicate_diff_se(a, b, 0.03, paired=False) == pytest.approx(want)
    # replicates paired by seed: the variance of the per-replicate differences
    d = np.subtract(a, b)
    assert replicate_diff_se(a, b, 0.03) == pytest.approx((0.03**2 + np.var(d, ddof=1) / 3) ** 0.5)
    assert replicate_diff_se([0.9, 0.8], [0.85, 0.75]) == pytest.approx(0.0)  # a constant gap: no training noise
    assert replicate_diff_se([0.9], [0.8], 0.01) == pytest.approx(0.01)     # one replicate: evaluation noise only
    with pytest.raises(ConfigError, match="as many replicates"):
        replicate_diff_se([0.9, 0.8], [0.8, 0.7, 0.6])
