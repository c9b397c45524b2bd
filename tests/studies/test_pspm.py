import math

import torch

from plasticity.studies.pspm import STUDY, null_correlations, spike_statistics


def test_pspm_smoke(tmp_path):
    res = STUDY.run(scale="smoke", out_dir=tmp_path, quiet=True)
    m = res.metrics
    assert m["vr_free"][-1] < m["vr_free"][0] and len(m["vr_forced"]) == len(m["iterations"])
    assert 0.0 <= m["student"]["isi_ks"] <= 1.0 and 0.0 <= m["student"]["aval_ks"] <= 1.0
    assert math.isfinite(m["null_corr_sd"]) and m["null_corr_sd"] > 0
    assert {c.name.split(":")[0] for c in res.checks} >= {"ISI distribution", "avalanche sizes"}
    assert (tmp_path / "pspm.png").exists()
    assert set(m["ks_change_se"]) == {"isi", "aval", "aval_homeo"}
    assert all(math.isfinite(v) and v >= 0 for v in m["ks_change_se"].values())
    assert STUDY.deviations and STUDY.tuned_seeds == (0, 1, 2)
    # the chaos floor: the teacher itself with weight noise, one free-running ratio per noise level
    assert len(m["teacher_noise_ratio_free"]) == len(m["noise_levels"]) == 3
    assert all(r > 0 for r in m["teacher_noise_ratio_free"]) and "weight noise" in res.checks[0].detail


def test_null_correlations_centre_on_zero():
    cfg = STUDY.config("smoke")
    null = null_correlations({**cfg, "n_null": 40}, seed=3)
    mean = sum(null) / len(null)
    assert abs(mean) < 0.05 and max(abs(c) for c in null) < 0.4


def test_spike_statistics_of_identical_trains_are_zero_distance():
    s = (torch.rand(200, 2, 10, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    st = spike_statistics(s, s, bin_steps=2, dt=1.0)
    assert st["isi_ks"] == 0.0 and st["aval_ks"] == 0.0 and st["aval_n"] > 0
