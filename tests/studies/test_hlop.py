"""Study hlop: the smoke scale runs end to end and its checks compare measured numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from plasticity.errors import ConfigError
from plasticity.studies import get_study


def test_hlop_smoke_runs_and_reports(tmp_path: Path) -> None:
    study = get_study("hlop")
    res = study.run("smoke", out_dir=tmp_path, quiet=True)
    runs = res.metrics["runs"]
    assert set(runs) == {"rate-bp/finetune", "rate-bp/svd", "rate-bp/hlop", "spiking-bp/finetune",
                         "spiking-bp/hlop-online"}
    for entry in runs.values():
        assert len(entry["R"]) == 3 and all(len(row) == 3 for row in entry["R"])
        assert -1.0 <= entry["bwt"] <= 1.0 and 0.0 <= entry["acc"] <= 1.0
    for key in ("rate-bp/hlop", "spiking-bp/hlop-online"):
        assert "captured_last_task" in runs[key] and "orthonormality_error" in runs[key]
    names = [c.name for c in res.checks]
    assert any("spiking BP: HLOP BWT" in n for n in names) and any("fine-tuning" in n for n in names)
    assert get_study("hlop").deviations
    assert (tmp_path / "results.json").is_file()
    assert (tmp_path / "R_matrices.png").is_file() and (tmp_path / "acc_bwt.png").is_file()


def test_hlop_paper_config_is_the_pmnist_setting() -> None:
    cfg = get_study("hlop").config("paper")
    assert cfg["sequence"] == "permuted-mnist" and cfg["n_tasks"] == 10 and cfg["hidden"] == [800, 800]
    assert len(cfg["components_schedule"]) == 10
    assert sum(s[0] for s in cfg["components_schedule"]) <= 784
    assert cfg["spiking_hidden"] == [800, 800] and cfg["n_steps"] == 6 and cfg["hlop_lr"] == [0.001, 0.01, 0.01]
    assert cfg["spiking_components_schedule"][0] == [80, 200, 100] and cfg["spiking_init_gain"] == 1.0
    with pytest.raises(ConfigError, match="no config key"):
        get_study("hlop").config("small", nonsense=1)
