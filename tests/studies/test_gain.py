"""gain study at smoke scale."""

from __future__ import annotations

from plasticity.studies import get_study


def test_gain_smoke(tmp_path) -> None:
    res = get_study("gain").run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "gain.png").exists()
    m = res.metrics
    assert m["loss_last"] < m["loss_first"]
    assert m["corr_after"] < m["corr_before"]
    assert res.passed, [c.line() for c in res.checks if not c.passed]
