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
    """CI installs the ``ray`` extra (make test): there a missing ray is a failure, not a skip."""
    if os.environ.get("CI"):
        import ray
    else:
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


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _spawn_workers(pid: int) -> list[int]:
    out = []
    for k in _descendants(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes():
                out.append(k)
        except OSError:
            pass
    return out


@pytest.mark.slow
def test_killed_pool_worker_fails_its_trial_and_sweep_goes_on(tmp_path: Path) -> None:
    """SIGKILL (what an OOM kill looks like) on the worker running the first trial: that trial is 'failed' with
    the reason, a new worker runs the rest, the sweep finishes without a BrokenProcessPool and nothing stays
    'running'."""
    import threading

    spec = _write(tmp_path, hidden=64, n_train=600)
    plan = load_sweep(spec)
    plan.trials = plan.trials[:3]
    store = RunStore(tmp_path / "s.db")
    box: dict[str, object] = {}
    th = threading.Thread(target=lambda: box.update(s=run_sweep(plan, store, workers=1, executor="process")))
    th.start()
    deadline, victim = time.time() + 120, None
    while time.time() < deadline and victim is None:
        workers = _spawn_workers(os.getpid())
        victim = workers[0] if workers else None
        time.sleep(0.05)
    assert victim is not None
    time.sleep(1.0)
    os.kill(victim, signal.SIGKILL)
    th.join(timeout=300)
    summary = box["s"]
    assert len(summary.ran) == 3  # type: ignore[attr-defined]
    with RunStore(tmp_path / "s.db") as st:
        rows = {r["id"]: r for r in st.list_runs()}
    first = rows[plan.trials[0].id]
    assert first["status"] == "failed" and "died" in first["message"] and "SIGKILL" in first["message"]
    assert [rows[t.id]["status"] for t in plan.trials[1:]] == ["finished", "finished"]
    assert not [r for r in rows.values() if r["status"] == "running"]
    store.close()


@pytest.mark.slow
def test_killed_driver_leaves_no_orphan_workers(tmp_path: Path) -> None:
    """kill -9 on the sweep driver: its workers (and multiprocessing helpers) are gone within 5 s."""
    spec = _write(tmp_path, hidden=256, n_train=1400)
    cmd = [sys.executable, "-m", "plasticity.cli", "sweep", str(spec), "--store", str(tmp_path / "s.db"),
           "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(_spawn_workers(proc.pid)) < 2:
            time.sleep(0.05)
        time.sleep(1.0)
        family = _descendants(proc.pid)
        assert len(_spawn_workers(proc.pid)) == 2, family
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(5.0)
        orphans = [p for p in family if _alive(p)]
        assert orphans == [], orphans
    finally:
        for p in _descendants(proc.pid):
            os.kill(p, signal.SIGKILL)


DRIVER = """
import json, sys, time
from pathlib import Path
from plasticity.lab.store import RunStore
from plasticity.lab.sweep import run_sweep
spec, db, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
st = RunStore(db)
while not go.exists():
    time.sleep(0.005)
s = run_sweep(spec, st, workers=1, executor="inline")
print(json.dumps({"ran": s.ran, "skipped": s.skipped, "elsewhere": s.elsewhere}))
"""


@pytest.mark.slow
def test_two_identical_sweeps_at_once_run_each_trial_once(tmp_path: Path) -> None:
    """Two drivers of the same sweep on one store claim trials in a transaction: every trial runs exactly once."""
    import json

    spec = _write(tmp_path, hidden=64, n_train=1000)
    db, go = tmp_path / "s.db", tmp_path / "go"
    RunStore(db).close()
    procs = [subprocess.Popen([sys.executable, "-c", DRIVER, str(spec), str(db), str(go)], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(2.0)
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    ran = [t for o in outs for t in o["ran"]]
    print(f"two drivers ran {len(outs[0]['ran'])} + {len(outs[1]['ran'])} of 8 trials")
    assert len(ran) == len(set(ran)) == 8, outs
    with RunStore(db) as st:
        assert all(r["status"] == "finished" for r in st.list_runs()) and st.counts()["runs"] == 8
