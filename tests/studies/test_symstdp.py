from plasticity.studies.symstdp import STUDY


def test_symstdp_smoke(tmp_path):
    res = STUDY.run(scale="smoke", out_dir=tmp_path, quiet=True)
    assert res.passed, [c.line() for c in res.checks]
    assert 0.0 <= res.metrics["test_accuracy"] <= 1.0
    assert (tmp_path / "accuracy.png").exists() and (tmp_path / "receptive_fields.png").exists()
