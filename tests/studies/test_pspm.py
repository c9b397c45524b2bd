from plasticity.studies.pspm import STUDY


def test_pspm_smoke(tmp_path):
    res = STUDY.run(scale="smoke", out_dir=tmp_path, quiet=True)
    assert res.passed, [c.line() for c in res.checks]
    seed = res.metrics["per_seed"][0]
    assert seed["vr_forced"][-1] < seed["vr_forced"][0]
    assert (tmp_path / "pspm.png").exists()
