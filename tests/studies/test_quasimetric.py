from __future__ import annotations

import json

from plasticity.studies import get_study


def test_quasimetric_smoke_runs_and_pqe_keeps_triangle_inequality(tmp_path):
    res = get_study("quasimetric").run(scale="smoke", out_dir=tmp_path, quiet=True)
    s = res.metrics["summary"]
    assert set(s) == {"pqe_lh", "pqe_gg", "mlp"}
    for name in ("pqe_lh", "pqe_gg"):
        assert s[name]["triangle_violation_fraction"] == 0.0 and s[name]["self_distance_mean_abs"] == 0.0
        assert s[name]["negative_fraction"] == 0.0
    assert s["mlp"]["self_distance_mean_abs"] > 0.0  # the baseline is not constrained to d(x, x) = 0
    assert all(s[n]["true_triangle_violation_fraction"] == 0.0 for n in s)
    # the triangle inequality holds by construction: a test (above), not a study check
    assert not any(c.name.startswith("pqe") and "triangle" in c.name for c in res.checks) and res.deviations
    assert {c.name.split()[0] for c in res.checks if "beats" in c.name} == {"pqe_lh", "pqe_gg"}
    assert json.loads((tmp_path / "results.json").read_text())["study"] == "quasimetric"
    assert (tmp_path / "quasimetric.png").exists()


def test_quasimetric_paper_scale_config():
    cfg = get_study("quasimetric").config("paper")
    assert cfg["n_nodes"] >= 100 and set(cfg["models"]) == {"pqe_lh", "pqe_gg", "mlp"}
