"""Run store: schema, upserts without duplicates, stale-run detection, concurrent writers lose nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plasticity.lab.store import RunStore, StoreError

WRITER = """
import os, sys, time
from pathlib import Path
from plasticity.lab.store import RunStore
path, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
st = RunStore(path)
while not go.exists():
    time.sleep(0.005)
for i in range(n):
    rid = f"{tag}-{i}"
    st.create_run(rid, {"i": i}, name=tag, seed=i, git_rev="test")
    for e in range(1, 4):
        st.log_epoch(rid, {"epoch": e, "train_loss": 1.0 / e}, step=e)
    st.finish_run(rid, "finished", results={"i": i})
"""


def test_roundtrip_and_upserts(tmp_path: Path) -> None:
    st = RunStore(tmp_path / "a" / "s.db")
    assert st.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    st.create_run("r1", {"rule": {"name": "fa"}}, name="x", seed=3, git_rev="abc")
    st.log_epoch("r1", {"epoch": 1, "train_loss": 0.5}, step=10)
    st.log_epoch("r1", {"epoch": 1, "train_loss": 0.4}, step=10)  # re-recorded after a resume
    st.finish_run("r1", "finished", results={"test_accuracy": 0.9}, history=[{"epoch": 2, "train_loss": 0.3}],
                  artefacts={"checkpoints": "/x"}, seconds=1.5)
    run = st.get_run("r1")
    assert run["status"] == "finished" and run["seed"] == 3 and run["config"] == {"rule": {"name": "fa"}}
    assert st.metrics("r1") == [{"epoch": 1, "train_loss": 0.4}, {"epoch": 2, "train_loss": 0.3}]
    assert st.results("r1") == {"test_accuracy": 0.9}
    assert st.artefacts("r1") == {"checkpoints": "/x"}
    assert st.counts()["metrics"] == 2
    with pytest.raises(StoreError, match="no run 'nope'"):
        st.require_run("nope")


def test_dead_writer_is_marked_interrupted(tmp_path: Path) -> None:
    st = RunStore(tmp_path / "s.db")
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    st.create_run("dead", {}, pid=p.pid, git_rev="x")
    st.create_run("alive", {}, git_rev="x")
    assert st.mark_stale() == 1
    assert st.get_run("dead")["status"] == "interrupted"
    assert st.get_run("alive")["status"] == "running"


def test_transaction_rolls_back(tmp_path: Path) -> None:
    st = RunStore(tmp_path / "s.db")
    with pytest.raises(RuntimeError), st.transaction() as c:
        c.execute("INSERT INTO sweeps (id) VALUES ('x')")
        raise RuntimeError
    assert st.counts()["sweeps"] == 0


def test_bad_store_paths(tmp_path: Path) -> None:
    corrupt = tmp_path / "c.db"
    corrupt.write_bytes(b"not a database at all" * 10)
    with pytest.raises(StoreError, match="corrupt"):
        RunStore(corrupt)
    assert corrupt.read_bytes() == b"not a database at all" * 10
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="not writable"):
            RunStore(ro / "sub" / "s.db")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)
    with pytest.raises(StoreError, match="not a file"):
        RunStore(tmp_path)


@pytest.mark.slow
def test_two_processes_writing_one_store_lose_nothing(tmp_path: Path) -> None:
    db, go = tmp_path / "s.db", tmp_path / "go"
    RunStore(db).close()
    script = tmp_path / "w.py"
    script.write_text(WRITER)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    n = 150
    procs = [subprocess.Popen([sys.executable, str(script), str(db), tag, str(n), str(go)], env=env,
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    time.sleep(0.5)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM runs").fetchone() == (2 * n, 2 * n)
    assert con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 2 * n * 3
    assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2 * n
    assert con.execute("SELECT COUNT(*) FROM runs WHERE status='finished'").fetchone()[0] == 2 * n
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


READER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=0.2)
t0 = time.perf_counter()
n = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
print(n, round(time.perf_counter() - t0, 3))
"""


def test_wal_readers_in_other_processes_read_while_one_writes(tmp_path: Path) -> None:
    """While a write transaction is open (not committed), other processes still read the last committed rows.

    ``BEGIN EXCLUSIVE`` would lock readers out of a rollback-journal database; in WAL mode it does not."""
    db = tmp_path / "s.db"
    st = RunStore(db)
    st.create_run("committed", {}, git_rev="x")
    st.conn.execute("BEGIN EXCLUSIVE")
    st.conn.execute("INSERT INTO runs (id, config, status) VALUES ('pending', '{}', 'running')")
    readers = [subprocess.run([sys.executable, "-c", READER, str(db)], capture_output=True, text=True, timeout=30)
               for _ in range(2)]
    st.conn.execute("COMMIT")
    for r in readers:
        assert r.returncode == 0, r.stderr
        n, secs = r.stdout.split()
        assert int(n) == 1 and float(secs) < 0.2  # sees the committed row, not blocked by the writer
    assert st.counts()["runs"] == 2


HOLDER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO sweeps (id) VALUES ('lock-holder')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_locked_store_fails_fast_with_one_line_and_reads_still_work(tmp_path: Path, monkeypatch, capsys) -> None:
    """Another process holds the write lock: a writing command fails within the (configurable, default 30 s)
    lock timeout with one line naming that process; read-only commands never wait for the lock."""
    from plasticity.cli import main
    from plasticity.lab.store import DEFAULT_LOCK_TIMEOUT, lock_timeout

    assert DEFAULT_LOCK_TIMEOUT <= 30 and lock_timeout() <= 30
    db = tmp_path / "s.db"
    with RunStore(db) as st:
        st.create_run("r0", {"rule": {"name": "bp"}}, name="r0", git_rev="t")
        st.finish_run("r0", "finished")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("PLASTICITY_LOCK_TIMEOUT", "1")
        cfg = tmp_path / "c.yaml"
        cfg.write_text("model: {hidden: [4]}\ndata: {n_train: 50, n_test: 10}\ntraining: {epochs: 1}\n")
        t0 = time.perf_counter()
        rc = main(["run", str(cfg), "--store", str(db), "--quiet"])
        waited = time.perf_counter() - t0
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1, err
        assert f"locked by process {holder.pid}" in err and "PLASTICITY_LOCK_TIMEOUT" in err
        assert waited < 30
        t0 = time.perf_counter()
        assert main(["runs", "list", "--store", str(db)]) == 0  # read-only: no write lock
        assert main(["runs", "show", "r0", "--store", str(db)]) == 0
        assert time.perf_counter() - t0 < 5
        assert "r0" in capsys.readouterr().out
    finally:
        holder.kill()
        holder.wait()
    with RunStore(db) as st:
        assert st.counts()["runs"] == 1


def test_readonly_open_never_writes(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    RunStore(db).close()
    with RunStore(db, readonly=True) as ro:
        with pytest.raises(StoreError, match="read-only"):
            ro.create_run("x", {})
        assert ro.mark_stale() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]
