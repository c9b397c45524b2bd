"""Honest run states: finite blow-up -> diverged (layer and step named), failed checkpoint write -> failed
(exit 1, reason stored), unsafe run ids and run folders rejected before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from plasticity.cli import main
from plasticity.errors import ConfigError, PlasticityError
from plasticity.lab.config import validate_config
from plasticity.lab.runner import execute, run_config
from plasticity.lab.store import RunStore

TINY = {"name": "tiny", "model": {"hidden": [8]}, "rule": {"name": "fa"}, "geometry": {"name": "sgd", "lr": 0.05},
        "data": {"name": "digits", "n_train": 200, "n_test": 50}, "training": {"epochs": 2, "batch_size": 50}}


def _yaml(tmp: Path) -> Path:
    import yaml

    p = tmp / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY))
    return p


def test_finite_blowup_is_diverged_naming_layer_and_step(tmp_path: Path, capsys) -> None:
    """lr=1000 keeps the loss finite (it used to end 'finished' at loss 1e9); now it is 'diverged', exit 1."""
    store = str(tmp_path / "s.db")
    rc = main(["run", str(_yaml(tmp_path)), "--set", "geometry.lr=1000", "--store", store, "--run-id", "big",
               "--quiet"])
    assert rc == 1
    assert "diverged" in capsys.readouterr().out
    with RunStore(store) as st:
        run = st.get_run("big")
    assert run["status"] == "diverged"
    assert "at step" in run["message"] and "exceeds 1000 x the initial loss" in run["message"]
    assert "largest weights in layers." in run["message"]


def test_divergence_factor_is_configurable(tmp_path: Path) -> None:
    cfg = validate_config({**TINY, "geometry": {"name": "sgd", "lr": 1000.0},
                           "training": {**TINY["training"], "divergence_factor": None, "check_divergence": True}})
    out = execute(cfg, tmp_path / "r", checkpoints=False)
    assert out.status in ("finished", "diverged")  # only NaN/inf can stop it now
    with pytest.raises(ConfigError, match="divergence_factor"):
        validate_config({"training": {"divergence_factor": 0.5}})


def test_checkpoint_write_failure_is_failed_exit_1(tmp_path: Path, capsys) -> None:
    """The run folder's checkpoints/ is a file: the write fails, the run is 'failed' with the reason, exit 1."""
    store = tmp_path / "runs" / "s.db"
    (tmp_path / "runs" / "ck").mkdir(parents=True)
    (tmp_path / "runs" / "ck" / "checkpoints").write_text("not a folder")
    rc = main(["run", str(_yaml(tmp_path)), "--store", str(store), "--run-id", "ck", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 1 and "failed" in out, out
    with RunStore(store) as st:
        run = st.get_run("ck")
    assert run["status"] == "failed" and "checkpoint write" in run["message"]


def test_path_traversal_run_id_rejected(tmp_path: Path) -> None:
    cfg = validate_config(TINY)
    st = RunStore(tmp_path / "runs" / "s.db")
    for bad in ("../../x", "/tmp/x", "a/b", "..", ".hidden", "x" * 200):
        with pytest.raises(ConfigError, match="run id"):
            run_config(cfg, st, run_id=bad)
        with pytest.raises(ConfigError, match="run id"):
            st.create_run(bad, {})
    with pytest.raises(PlasticityError, match="outside the store folder"):
        run_config(cfg, st, run_id="ok", run_dir=tmp_path / "elsewhere")
    assert st.counts()["runs"] == 0
    assert not (tmp_path / "x").exists() and not (tmp_path / "elsewhere").exists()
    st.close()


def test_run_dir_edited_in_database_is_refused(tmp_path: Path) -> None:
    st = RunStore(tmp_path / "runs" / "s.db")
    st.create_run("r", {}, run_dir=str(tmp_path / "outside"))
    with pytest.raises(PlasticityError, match="outside the store folder"):
        st.run_dir(st.get_run("r"))
    st.create_run("q", {}, run_dir=str(tmp_path / "runs" / "q" / ".." / ".." / "up"))
    with pytest.raises(PlasticityError, match="outside the store folder"):
        st.run_dir(st.get_run("q"))
    st.close()
