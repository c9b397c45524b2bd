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
    assert -1 <= data["metrics"]["gep_cos_min_gep"] <= 1
    runs = data["metrics"]["asym_runs"]  # the asymmetry part runs on its own (deeper) net, per seed
    assert set(runs) == {"gep", "gep_homeo"} and data["metrics"]["asym_sizes"] == [64, 12, 12, 12, 10]
    assert all(0 <= r["acc"] <= 1 and r["asym_after"] >= 0 for r in runs["gep"] + runs["gep_homeo"])
    # each EP variant minus BP is scored paired on the same test images
    table = data["metrics"]["paired_se"]
    assert set(table) == {"classic", "hep"} and all(0 <= d["bp"] < 0.1 for d in table.values())
    # smoke-scale BP sits near chance, so "EP within 2 points of BP" must not pass: the guard says INCONCLUSIVE
    acc_checks = [c for c in res.checks if "minus BP" in c.name]
    assert data["metrics"]["acc_bp"] < 0.5 and acc_checks
    assert all(c.status == "INCONCLUSIVE" for c in acc_checks) and res.exit_code != 0 and res.deviations


@pytest.mark.parametrize("scale", ["small", "cpu", "paper"])
def test_configs_validate(scale):
    cfg = get_study("ep").config(scale)
    validate_config(cfg)
    assert set(get_study("ep").config("paper")["hidden"]) == {256}


@pytest.mark.parametrize(("key", "value"), [("asym_seeds", 0), ("asym_clip", -1.0)])
def test_bad_asymmetry_settings_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        validate_config(get_study("ep").config("smoke", **{key: value}))


def test_unknown_variant_rejected():
    cfg = get_study("ep").config("smoke", variants=["bp", "magic"])
    with pytest.raises(ConfigError, match="variants"):
        validate_config(cfg)


@pytest.mark.parametrize(("key", "value"), [("schedule", "step"), ("T_classic", [0, 10]), ("T_classic", [5])])
def test_bad_schedule_and_relaxation_lengths_rejected(key, value):
    cfg = get_study("ep").config("smoke", **{key: value})
    with pytest.raises(ConfigError, match=key):
        validate_config(cfg)


def test_paper_config_matches_holomorphic_ep_settings():
    cfg = get_study("ep").config("paper")
    assert (cfg["dataset"], cfg["batch_size"], cfg["lr"], cfg["epochs"]) == ("mnist", 20, 0.05, 50)
    assert (cfg["T1"], cfg["T2"], cfg["n_hep"], cfg["beta"], cfg["sigma"]) == (200, 50, 10, 0.4, 0.04)
    assert cfg["T_classic"] == [350, 350] and cfg["beta_classic"] == 0.1
    conv = cfg["conv"]
    assert (conv["dataset"], conv["beta"], conv["n"], conv["T1"], conv["T2"], conv["batch_size"], conv["epochs"]) == \
        ("cifar10", 1.0, 4, 260, 60, 128, 90)


def test_paper_config_asymmetry_part_is_the_reference_fig4_setting():
    cfg = get_study("ep").config("paper")
    assert (cfg["asym_dataset"], cfg["asym_hidden"], cfg["asym_output"]) == ("fashion-mnist", [256, 256], "dynamic")
    assert (cfg["asym_optimizer"], cfg["asym_lr"], cfg["weight_decay"], cfg["homeostasis"]) == ("adamw", 1e-4, 0.0, 1.0)
    assert (cfg["asym_T"], cfg["asym_batch_size"], cfg["n_gep"], cfg["n_probes"]) == ([150, 20], 50, 0, 5)


@pytest.mark.parametrize(("key", "value"), [("asym_optimizer", "rmsprop"), ("asym_output", "recurrent"),
                                            ("asym_dataset", "imagenet"), ("asym_T", [0, 5])])
def test_bad_reference_setting_keys_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        validate_config(get_study("ep").config("smoke", **{key: value}))


def test_asymmetry_part_runs_with_dynamic_output_and_adamw(tmp_path):
    import torch

    from plasticity.data.task import TaskData
    from plasticity.studies.base import StudyContext
    from plasticity.studies.ep import _asymmetry

    cfg = get_study("ep").config("smoke", asym_output="dynamic", asym_optimizer="adamw", asym_lr=1e-3,
                                 asym_hidden=[8, 8], asym_T=[6, 3], n_gep=0, homeostasis=1.0, asym_batch_size=10)
    g = torch.Generator().manual_seed(0)
    data = TaskData("toy", torch.rand(40, 16, generator=g), torch.randint(0, 3, (40,), generator=g),
                    torch.rand(20, 16, generator=g), torch.randint(0, 3, (20,), generator=g), (16,), 3)
    ctx = StudyContext(out_dir=tmp_path, device=torch.device("cpu"), seed=0, scale="smoke", quiet=True)
    out = _asymmetry(cfg, data, ctx, ["gep_sym", "gep", "gep_homeo"], {})
    assert out["asym_output"] == "dynamic" and out["asym_sizes"] == [16, 8, 8, 3]
    assert all(0 <= r["acc"] <= 1 for v in out["asym_runs"].values() for r in v)
    assert out["asym_before_gep"] > 0.1  # independent feedback on both pairs, the output pair included
