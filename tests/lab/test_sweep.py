"""Sweeps: expansion/validation, kill-and-rerun without lost or duplicated rows, Ray equals the process pool."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plasticity.errors import ConfigError
from plasticity.lab.store import RunStore
from plasticity.lab.sweep import load_sweep, run_sweep

BASE = """
name: sw
model: {kind: mlp, hidden: [HIDDEN]}
rule: {name: bp}
geometry: {name: sgd, lr: 0.05, momentum: 0.5}
data: {name: digits, n_train: NTRAIN}
training: {epochs: 2, batch_size: 32, checkpoint_every: 5}
"""
SWEEP = """
name: eight
base: base.yaml
grid:
  rule.name: [bp, fa, sign, dfa]
  seed: [0, 1]
"""


def _write(tmp: Path, hidden: int = 64, n_train: int = 600) -> Path:
    (tmp / "base.yaml").write_text(BASE.replace("HIDDEN", str(hidden)).replace("NTRAIN", str(n_train)))
    (tmp / "sweep.yaml").write_text(SWEEP)
    return tmp / "sweep.yaml"


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}


def test_expansion_ids_are_stable_and_validated(tmp_path: Path) -> None:
    spec = _write(tmp_path)
    a, b = load_sweep(spec), load_sweep(spec)
    assert len(a.trials) == 8
    assert [t.id for t in a.trials] == [t.id for t in b.trials]
    assert {(t.config.rule.name, t.config.seed) for t in a.trials} == {
        (r, s) for r in ("bp", "fa", "sign", "dfa") for s in (0, 1)}
    listed = load_sweep({"base": {"training": {"epochs": 1}}, "list": [{"rule.name": "bp"}, {"geometry.lr": 0.1}],
                         "grid": {"seed": [0, 1, 2]}})
    assert len(listed.trials) == 6
    with pytest.raises(ConfigError, match=r"geometry\.lr"):
        load_sweep({"grid": {"geometry.lr": [0.1, -1.0]}})
    with pytest.raises(ConfigError, match="unknown key 'grids'"):
        load_sweep({"grids": {}})


def test_failed_trial_recorded_with_traceback(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "s.db")
    spec = {"name": "f", "base": {"data": {"name": "mnist", "data_dir": str(tmp_path / "none")},
                                  "training": {"epochs": 1}, "model": {"hidden": [8]}},
            "list": [{"seed": 0}]}
    plan = load_sweep(spec)
    from plasticity.lab.sweep import run_trial

    res = run_trial({"config": plan.trials[0].config.to_dict(), "run_dir": str(tmp_path / "t")})
    assert res["status"] == "failed" and "Traceback" in res["traceback"]
    store.close()


@pytest.mark.slow
def test_sweep_killed_after_three_then_rerun_skips_them(tmp_path: Path) -> None:
    spec = _write(tmp_path, hidden=256, n_train=1400)
    db = tmp_path / "store.db"
    cmd = [sys.executable, "-m", "plasticity.cli", "sweep", str(spec), "--store", str(db), "--workers", "1",
           "--quiet"]
    proc = subprocess.Popen(cmd, env=_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline, finished = time.time() + 120, 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=5)
                finished = con.execute("SELECT COUNT(*) FROM runs WHERE status='finished'").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                finished = 0
            if finished >= 3:
                break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert finished >= 3
    with RunStore(db) as st:
        done_before = {r["id"] for r in st.list_runs(status="finished")}
    assert 3 <= len(done_before) < 8

    res = subprocess.run([*cmd[:-3], "--workers", "2", "--quiet"], env=_env(), capture_output=True, text=True,
                         timeout=180)
    assert res.returncode == 0, res.stderr + res.stdout
    assert f"skipped {len(done_before)}," in res.stdout
    assert f"ran {8 - len(done_before)} (finished {8 - len(done_before)})" in res.stdout
    with RunStore(db) as st:
        runs = st.list_runs()
        assert len(runs) == 8 and len({r["id"] for r in runs}) == 8
        assert all(r["status"] == "finished" for r in runs)
        counts = st.counts()
        assert counts["metrics"] == 8 * 2 and counts["results"] == 8
        for r in runs:
            assert [m["epoch"] for m in st.metrics(r["id"])] == [1, 2]


@pytest.mark.slow
def test_ray_sweep_equals_process_pool(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    spec = _write(tmp_path, hidden=32, n_train=300)
    plan = load_sweep(spec)
    plan.trials = plan.trials[:4]
    a = RunStore(tmp_path / "pool" / "s.db")
    run_sweep(plan, a, workers=2, executor="process")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        b = RunStore(tmp_path / "ray" / "s.db")
        summary = run_sweep(plan, b, workers=2, executor="ray")
    finally:
        ray.shutdown()
    assert summary.ok and len(summary.ran) == 4
    for t in plan.trials:
        ra, rb = a.results(t.id), b.results(t.id)
        ra.pop("ms_per_step_mean"), rb.pop("ms_per_step_mean")
        assert ra == rb, t.id


def test_failed_trial_in_sweep_is_recorded_and_sweep_goes_on(tmp_path: Path) -> None:
    """One trial fails (missing dataset): its row holds the traceback, the others finish; a re-run retries it."""
    spec = {"name": "mixed", "base": {"model": {"hidden": [8]}, "data": {"n_train": 100, "n_test": 20},
                                      "training": {"epochs": 1, "batch_size": 50}},
            "list": [{"rule.name": "bp"},
                     {"data.name": "mnist", "data.data_dir": str(tmp_path / "no-data"), "data.n_train": None,
                      "data.n_test": None},
                     {"rule.name": "fa"}]}
    store = RunStore(tmp_path / "s.db")
    summary = run_sweep(spec, store, executor="inline")
    assert len(summary.ran) == 3 and not summary.ok
    rows = {r["id"]: r for r in store.list_runs(sweep_id=summary.sweep_id)}
    bad = rows[f"{summary.sweep_id}-001"]
    assert bad["status"] == "failed" and "Traceback (most recent call last)" in bad["traceback"]
    assert "DataError" in bad["traceback"] and bad["message"]
    assert [rows[f"{summary.sweep_id}-00{i}"]["status"] for i in (0, 2)] == ["finished", "finished"]
    again = run_sweep(spec, store, executor="inline")
    assert sorted(again.skipped) == [f"{summary.sweep_id}-000", f"{summary.sweep_id}-002"]
    assert again.ran == [f"{summary.sweep_id}-001"]
    assert store.counts()["runs"] == 3
    store.close()


def test_ray_missing_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch, capsys) -> None:
    """Without ``ray`` importable, ``--executor ray`` is a one-line error naming the extra, exit 2."""
    from plasticity.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # makes ``import ray`` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'plasticity\[ray\]'"):
        run_sweep({"list": [{"seed": 0}]}, None, executor="ray")  # type: ignore[arg-type]
    spec = _write(tmp_path, hidden=8, n_train=100)
    rc = main(["sweep", str(spec), "--executor", "ray", "--store", str(tmp_path / "s.db"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "pip install 'plasticity[ray]'" in err, err
    assert not (tmp_path / "s.db").exists() and not (tmp_path / "a.db").exists()
