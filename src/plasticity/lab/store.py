"""SQLite run store (WAL): runs, per-epoch metrics, final results, artefact paths, sweeps.

Every write is one ``BEGIN IMMEDIATE`` transaction, so several processes can read while one writes and
concurrent writers queue on the lock instead of losing rows. A writer waits at most ``lock_timeout`` seconds
(default 30, or ``$PLASTICITY_LOCK_TIMEOUT``) and then fails with one line naming the process holding the
store. Read-only opens (``runs list``/``show``, ``report``) never take the write lock. Rows are keyed
(run id, epoch) and written with upserts, so re-recording after a resume never duplicates them.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import PlasticityError

DEFAULT_STORE = Path("runs") / "plasticity.db"
DEFAULT_LOCK_TIMEOUT = 30.0
STATUSES = ("running", "finished", "failed", "diverged", "interrupted")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT, sweep_id TEXT, config TEXT NOT NULL, config_hash TEXT, git_rev TEXT,
    seed INTEGER, status TEXT NOT NULL, message TEXT, traceback TEXT, run_dir TEXT, pid INTEGER, host TEXT,
    created REAL, started REAL, finished REAL, updated REAL, seconds REAL, step INTEGER DEFAULT 0,
    epoch INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, epoch));
CREATE TABLE IF NOT EXISTS results (run_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artefacts (
    run_id TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS sweeps (id TEXT PRIMARY KEY, name TEXT, spec TEXT, created REAL, updated REAL);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs (sweep_id);
"""


class StoreError(PlasticityError):
    """The store file cannot be opened or written (bad path, read-only folder, not a database)."""


@functools.lru_cache(maxsize=8)
def git_revision(cwd: str | Path | None = None) -> str:
    """The current git commit (with ``+dirty`` when there are changes), or ``unknown``.

    Cached per process: a sweep driver records it for every trial and the code does not change under it."""
    import subprocess

    here = Path(cwd) if cwd else Path(__file__).resolve().parent
    procs: list[subprocess.Popen] = []
    try:  # both git commands run at once: this is on the path of every run's start
        for cmd in (["git", "rev-parse", "HEAD"], ["git", "status", "--porcelain", "-uno"]):
            procs.append(subprocess.Popen(cmd, cwd=here, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        (rev, _), (dirty, _) = (p.communicate(timeout=5) for p in procs)
        if procs[0].returncode != 0 or not rev.strip():
            return "unknown"
        return rev.strip() + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        for p in procs:
            p.kill()
        return "unknown"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed child not yet reaped) counts as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def lock_timeout(value: float | None = None) -> float:
    """Seconds a writer waits for a locked store: ``value``, else ``$PLASTICITY_LOCK_TIMEOUT``, else 30."""
    if value is None:
        raw = os.environ.get("PLASTICITY_LOCK_TIMEOUT", "")
        try:
            value = float(raw) if raw else DEFAULT_LOCK_TIMEOUT
        except ValueError:
            raise StoreError(f"PLASTICITY_LOCK_TIMEOUT={raw!r} is invalid; allowed: seconds > 0") from None
    if not value > 0:
        raise StoreError(f"lock timeout {value!r} is invalid; allowed: seconds > 0")
    return float(value)


def holders(path: Path) -> list[int]:
    """Other processes with the store (or its WAL) open, found through /proc (Linux; empty elsewhere)."""
    targets = {str(path.resolve()), str(path.resolve()) + "-wal", str(path.resolve()) + "-shm"}
    pids = []
    for d in Path("/proc").glob("[0-9]*"):
        if int(d.name) == os.getpid():
            continue
        try:
            if any(os.readlink(f) in targets for f in (d / "fd").iterdir()):
                pids.append(int(d.name))
        except OSError:
            continue
    return sorted(pids)


def _writable(path: Path) -> bool:
    from .paths import writable

    return writable(path)


def check_store_path(path: str | os.PathLike) -> Path:
    """Validate a store path without creating anything: an existing file must be a writable SQLite database,
    a new one needs a writable (or creatable) folder. Returns the path."""
    p = Path(path)
    if p.exists():
        if not p.is_file():
            raise StoreError(f"store {str(p)!r} is not a file; pass --store PATH/TO/FILE.db")
        try:
            with open(p, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise StoreError(f"store {str(p)!r} cannot be read ({exc.strerror}); pass another --store PATH") from None
        if head and head != b"SQLite format 3\x00":
            raise StoreError(f"store {str(p)!r} is corrupt or not a SQLite database; "
                             "pass another --store PATH or move the file away")
        if not _writable(p) or not _writable(p.parent):
            raise StoreError(f"store {str(p)!r} is not writable (folder {str(p.parent)!r} must be writable "
                             "for the WAL files); pass another --store PATH")
        return p
    existing = p.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not _writable(existing):
        raise StoreError(f"cannot create store {str(p)!r}: folder {str(existing)!r} is not writable; "
                         "pass --store PATH in a writable folder")
    return p


class RunStore:
    """One SQLite file. ``RunStore(path)`` validates the path and the file before anything is written."""

    def __init__(self, path: str | os.PathLike = DEFAULT_STORE, timeout: float | None = None,
                 readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.timeout = lock_timeout(timeout)
        if readonly:
            if not self.path.is_file():
                raise StoreError(f"store {str(self.path)!r} does not exist; pass --store PATH")
        else:
            check_store_path(self.path)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create store {str(self.path)!r}: {exc.strerror or exc}; "
                                 "pass --store PATH in a writable folder") from None
        try:
            if readonly:  # never takes the write lock: WAL readers run beside a writer
                # read-write handle with writes switched off, so closing removes SQLite's -wal/-shm files;
                # a store we may not write is opened truly read-only
                mode = "rw" if _writable(self.path) and _writable(self.path.parent) else "ro"
                self.conn = sqlite3.connect(f"file:{self.path.resolve()}?mode={mode}", uri=True,
                                            timeout=self.timeout, isolation_level=None, check_same_thread=False)
                self.conn.execute("PRAGMA query_only=1")
            else:
                self.conn = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None,
                                            check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                with self.transaction() as c:
                    for stmt in SCHEMA.strip().split(";"):
                        if stmt.strip():
                            c.execute(stmt)
            else:
                self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise self._locked() from None
            raise StoreError(f"store {str(self.path)!r} is not usable ({exc}); "
                             "pass another --store PATH or move the file away") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {str(self.path)!r} is not a usable SQLite database ({exc}); "
                             "pass another --store PATH or move the file away") from None

    def _locked(self) -> StoreError:
        pids = holders(self.path)
        who = f"process {', '.join(map(str, pids))}" if pids else "another process"
        return StoreError(f"store {str(self.path)!r} is locked by {who} (waited {self.timeout:g} s); wait for it to "
                          "finish and retry, or set PLASTICITY_LOCK_TIMEOUT=SECONDS to wait longer")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error); waits at most ``timeout`` seconds."""
        if self.readonly:
            raise StoreError(f"store {str(self.path)!r} was opened read-only")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise self._locked() from None
                time.sleep(0.05)
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # -- writes --------------------------------------------------------------------------------
    def create_run(self, run_id: str, config: dict[str, Any], *, name: str = "", seed: int = 0,
                   sweep_id: str | None = None, config_hash: str = "", run_dir: str = "", status: str = "running",
                   pid: int | None = None, git_rev: str | None = None) -> None:
        """Insert (or restart) a run row with status ``status``; keeps ``created`` of an existing row."""
        from .paths import check_run_id

        check_run_id(run_id)
        with self.transaction() as c:
            self._upsert_run(c, run_id, config, name=name, seed=seed, sweep_id=sweep_id, config_hash=config_hash,
                             run_dir=run_dir, status=status, pid=pid, git_rev=git_rev)

    def claim_run(self, run_id: str, config: dict[str, Any], *, done: tuple[str, ...] = ("finished", "diverged"),
                  **kw: Any) -> str | None:
        """Atomically take run ``run_id`` for this process: in one transaction, read its row and, unless it is
        done or running in another live process, (re)create it as ``running``. Returns None when claimed,
        else the reason (its done status, or ``"elsewhere"``). Two drivers of one sweep never run a trial twice."""
        from .paths import check_run_id

        check_run_id(run_id)
        host = socket.gethostname()
        with self.transaction() as c:
            row = c.execute("SELECT status, pid, host FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is not None:
                if row["status"] in done:
                    return str(row["status"])
                if row["status"] == "running" and row["pid"] != os.getpid() and (
                        row["host"] != host or _pid_alive(row["pid"])):
                    return "elsewhere"
            self._upsert_run(c, run_id, config, **kw)
        return None

    def _upsert_run(self, c: sqlite3.Connection, run_id: str, config: dict[str, Any], *, name: str = "",
                    seed: int = 0, sweep_id: str | None = None, config_hash: str = "", run_dir: str = "",
                    status: str = "running", pid: int | None = None, git_rev: str | None = None) -> None:
        now = time.time()
        c.execute(
            "INSERT INTO runs (id, name, sweep_id, config, config_hash, git_rev, seed, status, run_dir, pid, host,"
            " created, started, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET status=excluded.status, pid=excluded.pid, host=excluded.host,"
            " started=excluded.started, updated=excluded.updated, message=NULL, traceback=NULL,"
            " git_rev=excluded.git_rev",
            (run_id, name, sweep_id, json.dumps(config), config_hash, git_rev or git_revision(), seed, status,
             run_dir, os.getpid() if pid is None else pid, socket.gethostname(), now, now, now))

    def log_epoch(self, run_id: str, record: dict[str, Any], step: int | None = None) -> None:
        """Upsert one epoch's metrics and advance the run's progress counters."""
        epoch = int(record["epoch"])
        with self.transaction() as c:
            c.execute("INSERT INTO metrics (run_id, epoch, data) VALUES (?,?,?) ON CONFLICT(run_id, epoch)"
                      " DO UPDATE SET data=excluded.data", (run_id, epoch, json.dumps(record)))
            c.execute("UPDATE runs SET epoch=?, step=COALESCE(?, step), updated=? WHERE id=?",
                      (epoch, step, time.time(), run_id))

    def finish_run(self, run_id: str, status: str, *, results: dict[str, Any] | None = None,
                   history: list[dict[str, Any]] | None = None, message: str | None = None,
                   traceback: str | None = None, seconds: float | None = None,
                   artefacts: dict[str, str] | None = None) -> None:
        """Final status, results, (optionally) the whole metric history and artefacts in one transaction."""
        if status not in STATUSES:
            raise ValueError(f"status {status!r}; allowed: {STATUSES}")
        now = time.time()
        with self.transaction() as c:
            for rec in history or []:
                c.execute("INSERT INTO metrics (run_id, epoch, data) VALUES (?,?,?) ON CONFLICT(run_id, epoch)"
                          " DO UPDATE SET data=excluded.data", (run_id, int(rec["epoch"]), json.dumps(rec)))
            if results is not None:
                c.execute("INSERT INTO results (run_id, data) VALUES (?,?) ON CONFLICT(run_id)"
                          " DO UPDATE SET data=excluded.data", (run_id, json.dumps(results)))
            for k, v in (artefacts or {}).items():
                c.execute("INSERT INTO artefacts (run_id, name, path) VALUES (?,?,?) ON CONFLICT(run_id, name)"
                          " DO UPDATE SET path=excluded.path", (run_id, k, str(v)))
            epoch = max((int(r["epoch"]) for r in history), default=None) if history else None
            c.execute("UPDATE runs SET status=?, message=?, traceback=?, finished=?, updated=?,"
                      " seconds=COALESCE(?, seconds), epoch=COALESCE(?, epoch) WHERE id=?",
                      (status, message, traceback, now, now, seconds, epoch, run_id))

    def set_status(self, run_id: str, status: str, message: str | None = None) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET status=?, message=COALESCE(?, message), updated=? WHERE id=?",
                      (status, message, time.time(), run_id))

    def add_artefact(self, run_id: str, name: str, path: str | Path) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO artefacts (run_id, name, path) VALUES (?,?,?) ON CONFLICT(run_id, name)"
                      " DO UPDATE SET path=excluded.path", (run_id, name, str(path)))

    def upsert_sweep(self, sweep_id: str, name: str, spec: dict[str, Any]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.execute("INSERT INTO sweeps (id, name, spec, created, updated) VALUES (?,?,?,?,?)"
                      " ON CONFLICT(id) DO UPDATE SET updated=excluded.updated", (sweep_id, name, json.dumps(spec),
                                                                                  now, now))

    def mark_stale(self) -> int:
        """Runs left ``running`` by a dead process on this host become ``interrupted``; returns how many."""
        if self.readonly:
            return 0
        host = socket.gethostname()
        rows = self.conn.execute("SELECT id, pid FROM runs WHERE status='running' AND host=?", (host,)).fetchall()
        dead = [r["id"] for r in rows if not _pid_alive(r["pid"])]
        if dead:
            with self.transaction() as c:
                for rid in dead:
                    c.execute("UPDATE runs SET status='interrupted', message=COALESCE(message, 'process died'),"
                              " updated=? WHERE id=? AND status='running'", (time.time(), rid))
        return len(dead)

    # -- reads ---------------------------------------------------------------------------------
    def _row(self, row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["config"] = json.loads(d["config"])
        if self.readonly and d["status"] == "running" and d["host"] == socket.gethostname() \
                and not _pid_alive(d["pid"]):  # what mark_stale would write, shown without writing
            d["status"] = "interrupted"
        return d

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return None if row is None else self._row(row)

    def run_dir(self, run: dict[str, Any]) -> Path:
        """The run's folder, confined to the store's folder (a path edited into the database is refused)."""
        from .paths import confine

        return confine(run["run_dir"] or self.path.parent / run["id"], self.path.parent, f"run {run['id']!r} folder")

    def require_run(self, run_id: str) -> dict[str, Any]:
        run = self.get_run(run_id)
        if run is None:
            raise StoreError(f"no run {run_id!r} in store {str(self.path)!r}; see `plasticity runs list`")
        return run

    def list_runs(self, sweep_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        q, args = "SELECT * FROM runs WHERE 1=1", []
        if sweep_id is not None:
            q += " AND sweep_id=?"
            args.append(sweep_id)
        if status is not None:
            q += " AND status=?"
            args.append(status)
        rows = self.conn.execute(q + " ORDER BY created, id", args).fetchall()
        return [self._row(r) for r in rows]

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT data FROM metrics WHERE run_id=? ORDER BY epoch", (run_id,)).fetchall()
        return [json.loads(r["data"]) for r in rows]

    def results(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT data FROM results WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else json.loads(row["data"])

    def artefacts(self, run_id: str) -> dict[str, str]:
        rows = self.conn.execute("SELECT name, path FROM artefacts WHERE run_id=?", (run_id,)).fetchall()
        return {r["name"]: r["path"] for r in rows}

    def get_sweep(self, sweep_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["spec"] = json.loads(d["spec"])
        return d

    def list_sweeps(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT id, name, created FROM sweeps ORDER BY created")]

    def counts(self) -> dict[str, int]:
        """Row counts per table (used by tests and `runs list`)."""
        return {t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "metrics", "results", "artefacts", "sweeps")}

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_store(path: str | os.PathLike | None = None, readonly: bool = False,
               timeout: float | None = None) -> RunStore:
    """Open the store at ``path`` (default ``runs/plasticity.db``); a writable open creates it when missing."""
    return RunStore(DEFAULT_STORE if path is None else path, timeout=timeout, readonly=readonly)
