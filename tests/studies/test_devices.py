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
    assert len(res.checks) == 2 and res.deviations
    # the compared variants are scored on the same test images: their paired s.e. is stored for the checks
    ps = res.metrics["paired_se"]
    assert set(ps) == {"nonlinear32_uni", "software"}
    assert 0.0 <= ps["nonlinear32_uni"]["nonlinear32_bi"] < 0.1 and 0.0 <= ps["software"]["linear1024"] < 0.1


def test_devices_smoke_reference_at_chance_is_inconclusive(tmp_path: Path) -> None:
    """At smoke scale software SGD stays near chance, so "device within 1 point of software" says nothing:
    the guard reports INCONCLUSIVE and the CLI exits non-zero (3)."""
    from typer.testing import CliRunner

    from plasticity.cli import app

    out = CliRunner().invoke(app, ["study", "run", "devices", "--scale", "smoke", "--quiet", "--out", str(tmp_path)])
    assert out.exit_code == 3, out.output
    assert "INCONCLUSIVE" in out.output and "deviations from the paper" in out.output


def test_both_schemes_at_chance_make_the_scheme_check_inconclusive() -> None:
    """Software learned, but both nonlinear schemes collapsed to chance: "uni beats bi" says nothing."""
    from plasticity.studies import INCONCLUSIVE
    from plasticity.studies.devices import checks

    study = get_study("devices")
    cfg = study.config("paper")
    means = {"software": 0.98, "linear1024": 0.98, "nonlinear32_bi": 0.098, "nonlinear32_uni": 0.1135}
    metrics = {"dataset": "mnist", "n_classes": 10, "variants": {k: {"mean": m} for k, m in means.items()}}
    res = [c.evaluate(study.paper_values) for c in checks(metrics, cfg)]
    scheme = next(r for r in res if "unidirectional" in r.name)
    assert scheme.status == INCONCLUSIVE and "better of the two schemes" in scheme.note
