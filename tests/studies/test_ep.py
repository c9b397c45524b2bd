"""Study ``ep``: smoke scale runs end to end; small and paper configs build their networks."""

from __future__ import annotations

import json

import pytest

from plasticity.errors import ConfigError
from plasticity.studies import get_study
from plasticity.studies.ep import validate_config


def test_smoke_runs_and_reports(tmp_path):
    study = get_study("ep")
    res = study.run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "ep.png").exists()
    names = [c.name for c in res.checks]
    assert any("hEP gradient" in n for n in names)
    assert res.metrics["cos_min_hep"] > 0.99  # the gradient check holds even at smoke scale
    data = json.loads((tmp_path / "results.json").read_text())
    assert "acc_bp" in data["metrics"] and "asym_after_gep_homeo" in data["metrics"]


@pytest.mark.parametrize("scale", ["small", "paper"])
def test_configs_validate(scale):
    cfg = get_study("ep").config(scale)
    validate_config(cfg)
    assert set(get_study("ep").config("paper")["hidden"]) == {256}


def test_unknown_variant_rejected():
    cfg = get_study("ep").config("smoke", variants=["bp", "magic"])
    with pytest.raises(ConfigError, match="variants"):
        validate_config(cfg)
