"""gain study at smoke scale."""

from __future__ import annotations

import pytest

from plasticity.errors import ConfigError
from plasticity.studies import get_study


def test_gain_smoke(tmp_path) -> None:
    res = get_study("gain").run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "gain.png").exists()
    m = res.metrics
    assert m["loss_last"] < m["loss_first"]
    assert len(m["gains"]) == len(m["analytic_self_consistent"]) == res.config["neurons"]
    assert m["no_recurrence"]["max_diff_feedforward"] < 1e-2
    assert res.deviations and len(res.checks) == 5
    assert res.passed, [c.line() for c in res.checks if not c.passed]


def test_gain_bad_config() -> None:
    with pytest.raises(ConfigError, match="adapter_weight"):
        get_study("gain").config("smoke", adapter_weight=1.5)
    with pytest.raises(ConfigError, match="radius"):
        get_study("gain").config("smoke", radius=1.5)
