from __future__ import annotations

import math

from plasticity.studies import get_study


def test_arrows_smoke_runs_and_reports_gap(tmp_path):
    res = get_study("arrows").run(scale="smoke", out_dir=tmp_path, quiet=True)
    (run,) = res.metrics["runs"]
    assert math.isfinite(run["forward"]) and math.isfinite(run["backward"])
    assert run["forward"] < math.log(100)                   # learned something beyond uniform over the vocab
    assert len(res.checks) == 1 and (tmp_path / "forward_vs_backward.png").exists()
