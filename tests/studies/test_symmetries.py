from __future__ import annotations

import json

from plasticity.studies import get_study


def test_symmetries_smoke_runs_detects_and_shows_depth_trend(tmp_path):
    res = get_study("symmetries").run(scale="smoke", out_dir=tmp_path, quiet=True)
    checks = {c.name: c for c in res.checks}
    dead = next(c for n, c in checks.items() if "dead neuron" in n)
    generic = next(c for n, c in checks.items() if "generic" in n)
    depth = next(c for n, c in checks.items() if "depth" in n)
    assert dead.passed and generic.passed and depth.passed, [c.line() for c in res.checks]
    grid = res.metrics["grid"]
    assert len(grid) == 4 and all(0.0 <= r["fraction_no_hidden"] <= 1.0 and r["mean_deficit"] >= 0 for r in grid)
    assert json.loads((tmp_path / "results.json").read_text())["study"] == "symmetries"
    assert (tmp_path / "fraction_no_hidden_symmetries.png").exists()


def test_symmetries_scales_are_valid():
    study = get_study("symmetries")
    for scale in ("smoke", "small", "paper"):
        cfg = study.config(scale)
        assert cfg["init"] in ("torch", "he_normal") and cfg["trials"] >= 1
