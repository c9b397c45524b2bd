from __future__ import annotations

from plasticity.studies import get_study


def test_spiking_ops_smoke(tmp_path):
    res = get_study("spiking_ops").run(scale="smoke", out_dir=tmp_path, quiet=True)
    assert res.passed, [c.line() for c in res.checks]
    assert res.metrics["errors"]["matmul"][0] > res.metrics["errors"]["matmul"][-1]
    assert (tmp_path / "error_vs_T.png").exists()
