"""Study ``geometry`` at smoke scale: runs, writes results and figure, regression part matches the claim."""

from __future__ import annotations

from pathlib import Path

from plasticity.studies import get_study


def test_geometry_smoke(tmp_path: Path) -> None:
    res = get_study("geometry").run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "geometry.png").exists()
    reg = res.metrics["regression"]["200"]
    assert reg["max_rel_loss"] < 1e-2  # every potential actually fits the data
    assert reg["matching_wins"] == [2, 2, 2]
    assert len(res.checks) == 5
    assert all(f["llr"] > 0 for f in res.metrics["mlp"]["negentropy"]["layers"])
