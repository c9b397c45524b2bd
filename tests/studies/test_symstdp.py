import pytest

from plasticity.errors import ConfigError
from plasticity.studies.symstdp import STUDY, net_config


@pytest.mark.slow  # ~10 s alone, a minute on the shared machine
def test_symstdp_smoke(tmp_path):
    res = STUDY.run(scale="smoke", out_dir=tmp_path, quiet=True)
    m = res.metrics
    for key in ("val_accuracy", "val_assignment_accuracy", "online_accuracy", "batched_accuracy"):
        assert 0.0 <= m[key] <= 1.0
    assert "test_accuracy" not in m  # the smoke and small scales never read the test set
    names = [c.name for c in res.checks]
    assert any("x chance" in n for n in names) and any("batched minus" in n for n in names)
    assert res.deviations and (tmp_path / "receptive_fields.png").exists()


def test_paper_config_is_the_reference_6400_network():
    cfg = STUDY.config("paper")
    net = net_config(cfg, 784, 10)
    assert (net.n_exc, net.dt, net.t_run, net.t_rest, cfg["batch_size"]) == (6400, 0.5, 350.0, 150.0, 1)
    assert (net.theta_plus, net.nu_pe, net.cla_norm) == (0.05, 0.01, 0.1 * 6400 * 8.0)
    assert cfg["read_test"] and cfg["n_val"] == 0 and cfg["epochs"] == 15


@pytest.mark.parametrize("bad", [{"max_intensity": 0.0}, {"max_intensity": -3.0}])
def test_bad_intensity_limit_is_one_line(bad):
    with pytest.raises(ConfigError) as e:
        STUDY.config("small", **bad)
    assert "max_intensity" in str(e.value) and "\n" not in str(e.value)


def test_class_layer_length_chosen_on_validation(tmp_path):
    """cpu-select scores the class layer on validation every cla_select_every images and keeps the best."""
    over = {"n_exc": 20, "n_train": 40, "n_val": 20, "cla_select_every": 20, "batch_size": 20, "eval_batch": 20,
            "read_test": False, "dt": 1.0}
    m = STUDY.run(scale="cpu-select", out_dir=tmp_path, quiet=True, **over).metrics
    curve = m["cla_selection_curve"]
    assert [c[0] for c in curve] == [20, 40, 60, 80]  # 2 class-layer epochs x 2 chunks of 20 images
    best = max(c[1] for c in curve)
    assert m["cla_selected_images"] == next(n for n, a in curve if a == best)  # the earliest of the best
