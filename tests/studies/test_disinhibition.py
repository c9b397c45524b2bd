from __future__ import annotations

import numpy as np
import pytest

from plasticity.errors import ConfigError
from plasticity.studies import get_study
from plasticity.studies.disinhibition import zero_crossings


def test_zero_crossings_direction():
    x = np.linspace(0, 3, 31)
    cross = zero_crossings(x, np.cos(x * np.pi / 2))              # + to − at 1, − to + at 3 (endpoint excluded)
    assert len(cross) == 1 and cross[0][1] == -1 and cross[0][0] == pytest.approx(1.0, abs=1e-2)


def test_disinhibition_smoke(tmp_path):
    s = get_study("disinhibition")
    assert s.deviations and s.deviations == [*s.deviations]
    res = s.run(scale="smoke", out_dir=tmp_path, quiet=True)
    m = res.metrics
    for t in res.config["targets"]:                               # exact inverse: the flip sits at the target
        assert m["synapse"][f"exact_flip_target_{t:g}"] == pytest.approx(t, rel=0.02)
    net = m["nets"]["digits_h1"]
    assert set(res.config["rules"]) <= set(net)
    assert 0.0 <= net["paired_se"]["bp"]["closed-loop"] < 0.1      # same test images: the paired s.e. is stored
    for when in ("align_init", "align_trained"):
        assert set(net[when]) == {"closed-loop", "open-loop", "dfa"}
        assert net[when]["closed-loop"]["hidden"] < net[when]["dfa"]["hidden"]
    names = [c.name for c in res.checks]
    assert any("BCM" in n for n in names) and any("DFA minus closed-loop" in n for n in names)
    assert res.deviations and (tmp_path / "disinhibition.png").exists() and (tmp_path / "results.json").exists()


@pytest.mark.parametrize("key,value,match", [("k_p", 0.0, "k_p"), ("k_i", -1.0, "k_i"), ("ctrl_tau", 0.0, "ctrl_tau")])
def test_bad_controller_config_is_one_line(key, value, match):
    with pytest.raises(ConfigError, match=match) as err:
        get_study("disinhibition").config("small", **{key: value})
    assert "\n" not in str(err.value) and "> 0" in str(err.value)


def test_unknown_variant_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="variant") as err:
        get_study("disinhibition").run(scale="smoke", out_dir=tmp_path, quiet=True, variant="dfa-ish")
    assert "\n" not in str(err.value) and "closed-loop" in str(err.value)
