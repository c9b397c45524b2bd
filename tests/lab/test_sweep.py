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
