"""Study ``devices`` at smoke scale: runs, writes the figure, reports every variant."""

from __future__ import annotations

from pathlib import Path

from plasticity.studies import get_study


def test_devices_smoke(tmp_path: Path) -> None:
    res = get_study("devices").run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "devices.png").exists()
    v = res.metrics["variants"]
    assert set(v) == {"software", "linear1024", "nonlinear32_bi", "nonlinear32_uni"}
    assert all(0.0 <= x["mean"] <= 1.0 for x in v.values())
    assert len(res.checks) == 2
