from __future__ import annotations

import json
import math

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.studies import get_study
from plasticity.studies.modadd import TwoLayerModAdd, first_step_at, train_modadd


def test_modadd_smoke_passes_and_writes_results(tmp_path):
    res = get_study("modadd").run(scale="smoke", out_dir=tmp_path, quiet=True)
    assert res.passed, [c.line() for c in res.checks]
    m = res.metrics
    assert m["fourier_train_acc"] == 1.0 and m["fraction_concentrated"] > 0.5
    assert m["grok_test_step"] >= 2 * m["grok_train_step"] > 0
    assert m["test_acc_when_train_perfect"] < 0.9 <= m["grok_final_test_acc"]
    assert json.loads((tmp_path / "results.json").read_text())["study"] == "modadd"
    assert (tmp_path / "modadd.png").exists()


def test_model_shapes_and_arguments():
    model = TwoLayerModAdd(7, 16)
    x = torch.tensor([[0, 1], [6, 6], [3, 4]])
    assert model(x).shape == (3, 7)
    # the two operands share their embedding: f(a, b) = f(b, a)
    assert torch.allclose(model(x), model(x.flip(1)))
    assert TwoLayerModAdd(7, 16, activation="quad")(x).shape == (3, 7)
    with pytest.raises(ConfigError, match="activation"):
        TwoLayerModAdd(7, 16, activation="tanh")
    with pytest.raises(ConfigError, match="width"):
        TwoLayerModAdd(7, 0)


def test_full_data_training_memorises():
    _, hist = train_modadd(11, 64, 1.0, 200, 1e-2, 0.0, 0.1, 0, torch.device("cpu"), eval_every=50)
    assert hist["step"][-1] == 200 and hist["train_acc"][-1] == 1.0
    assert hist["train_loss"][0] > hist["train_loss"][-1]


def test_first_step_at_needs_the_level_to_hold():
    hist = {"step": [0, 10, 20, 30], "acc": [0.0, 1.0, 0.5, 1.0]}
    assert first_step_at(hist, "acc", 1.0) == 30.0
    assert math.isnan(first_step_at(hist, "acc", 1.1))


def test_checks_fail_without_grokking():
    study = get_study("modadd")
    cfg = study.config("smoke")
    metrics = {"fraction_concentrated": 0.2, "median_share": 0.5, "fourier_train_acc": 1.0,
               "grok_delay_ratio": float("nan"), "grok_train_step": 100.0, "grok_test_step": float("nan"),
               "test_acc_when_train_perfect": 0.4, "grok_final_test_acc": 0.4,
               "median_phase_error": 1.0, "freq_match_fraction": 0.5}
    assert not any(c.passed for c in study.evaluate(metrics, cfg))


def test_scales_share_keys_and_paper_config_matches_reference_runs():
    study = get_study("modadd")
    keys = set(study.config("smoke"))
    assert all(set(study.config(s)) == keys for s in ("small", "cpu", "paper"))
    paper = study.config("paper")
    assert paper["width_fourier"] == math.ceil(512 / 23**2 * 97**2)        # d_mlp scaled from (p=23, 512)
    assert (paper["p_grok"], paper["train_frac"], paper["weight_decay"], paper["weight_decay_fourier"]) == (
        23, 0.75, 2.0, 0.0)


def test_cpu_scale_runs_the_reference_grokking_settings():
    study = get_study("modadd")
    cpu, paper = study.config("cpu"), study.config("paper")
    grok = ("p_grok", "width_grok", "train_frac", "steps_grok", "lr_grok", "weight_decay", "eval_every")
    assert all(cpu[k] == paper[k] for k in grok)
