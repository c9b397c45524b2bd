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
    assert {r["sweep"] for r in grid} == {"width", "input_dim", "width_only"}
    assert all(r["n0"] == r["width"] for r in grid if r["sweep"] == "width")  # the paper's (n, ..., n, 1) nets
    assert len(grid) == 12 and all(0.0 <= r["fraction_no_hidden"] <= 1.0 and r["mean_deficit"] >= 0 for r in grid)
    assert json.loads((tmp_path / "results.json").read_text())["study"] == "symmetries"
    assert (tmp_path / "fraction_no_hidden_symmetries.png").exists()


def test_symmetries_scales_are_valid():
    study = get_study("symmetries")
    for scale in ("smoke", "small", "paper"):
        cfg = study.config(scale)
        assert cfg["init"] in ("torch", "he_normal") and cfg["trials"] >= 1


def test_symmetries_fraction_from_shared_architecture_is_measured_once(tmp_path):
    """An architecture that belongs to two sweeps (n0 = width = fixed_width) is drawn once and reported in both."""
    study = get_study("symmetries")
    res = study.run(scale="smoke", out_dir=tmp_path, quiet=True, fixed_width=2, input_dims=[2], widths=[2],
                    depths=[1], trials=2, detector_trials=1)
    rows = res.metrics["grid"]
    assert [r["sweep"] for r in rows] == ["width", "input_dim", "width_only"]
    assert len({r["fraction_no_hidden"] for r in rows}) == 1 and len({r["mean_deficit"] for r in rows}) == 1
