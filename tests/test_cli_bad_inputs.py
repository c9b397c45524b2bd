"""Every bad input (commands, configs, data, store, checkpoints, paths) -> exit 2, at most 2 lines, nothing written.

The table in /work/notes/i19.md is this list; ``python tests/test_cli_bad_inputs.py`` prints it.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import zlib
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from plasticity.cli import main
from plasticity.testing import TINY_RUN_YAML as TINY

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "rule: *i\n"


class _Evil:
    """Unpickling this would write a file: a checkpoint holding it must be refused, not run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def crafted_checkpoint(path: Path, marker: Path) -> None:
    """A checkpoint with a *valid* header and CRC whose payload runs code when unpickled with weights_only=False."""
    payload = pickle.dumps({"model": _Evil(str(marker))}, protocol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PLCK1 %08x %d\n" % (zlib.crc32(payload), len(payload)) + payload)


def make_world(tmp: Path) -> dict[str, str]:
    """The files the bad inputs point at: configs, data folders, stores (with runs to resume), read-only folders."""
    from plasticity.lab.store import RunStore

    w: dict[str, str] = {}
    (tmp / "tiny.yaml").write_text(TINY)
    (tmp / "malformed.yaml").write_text("model: [\n")
    (tmp / "empty.yaml").write_text("")
    (tmp / "list.yaml").write_text("- a\n- b\n")
    (tmp / "bomb.yaml").write_text(BOMB)
    (tmp / "cfgdir").mkdir()
    (tmp / "sweep.yaml").write_text("name: s\nbase: tiny.yaml\nlist:\n  - {rule.name: bp}\n")
    (tmp / "badsweep.yaml").write_text("name: s\nbase: tiny.yaml\ngrid: {geometry.lr: [0.1, -1]}\n")
    (tmp / "afile").write_text("x")
    (tmp / "nodata" / "mnist").mkdir(parents=True)
    bad = tmp / "baddata" / "mnist"
    bad.mkdir(parents=True)
    from plasticity.data.idx import IDX_FILES

    for f in IDX_FILES["mnist"]:
        (bad / f).write_bytes(b"\x1f\x8b garbage")
    ro = tmp / "ro"
    ro.mkdir()
    (tmp / "corrupt.db").write_bytes(b"\x00garbage, not sqlite" * 40)
    (tmp / "dbdir.db").mkdir()
    st_path = tmp / "runs" / "s.db"
    with RunStore(st_path) as st:
        for rid, status in (("nockpt", "failed"), ("corrupt", "interrupted"), ("crafted", "interrupted"),
                            ("escape", "interrupted"), ("done", "finished")):
            st.create_run(rid, {"name": rid}, name=rid,
                          run_dir=str(tmp / "elsewhere") if rid == "escape" else "")
            st.finish_run(rid, status)
    ck = st_path.parent / "corrupt" / "checkpoints" / "ckpt-0000000010.pt"
    ck.parent.mkdir(parents=True)
    ck.write_bytes(b"PLCK1 00000000 5\nhello")
    crafted_checkpoint(st_path.parent / "crafted" / "checkpoints" / "ckpt-0000000010.pt", tmp / "PWNED")
    crafted_checkpoint(tmp / "elsewhere" / "checkpoints" / "ckpt-0000000010.pt", tmp / "PWNED")
    ro.chmod(0o555)
    w.update(tmp=str(tmp), cfg=str(tmp / "tiny.yaml"), store=str(st_path), new=str(tmp / "new.db"), ro=str(ro))
    return w


def _c(*args: str) -> Callable[[dict[str, str]], list[str]]:
    return lambda w: [a.format(**w) for a in args]


NEW = "--store={new}"
CASES: dict[str, Callable[[dict[str, str]], list[str]]] = {
    # command line
    "report without id": _c("report"),
    "misspelt command": _c("runz"),
    "misspelt option": _c("compare", "--epoch", "3"),
    "compare --epochs abc": _c("compare", "--epochs", "abc"),
    "compare --epochs 0": _c("compare", "--epochs", "0"),
    "compare --lr 1e6": _c("compare", "--lr", "1e6", "--out", "{tmp}/out"),
    "compare --lr nan": _c("compare", "--lr", "nan", "--out", "{tmp}/out"),
    "compare unknown rule": _c("compare", "--rules", "bp,nope", "--out", "{tmp}/out"),
    "compare unknown dataset": _c("compare", "--dataset", "nope", "--out", "{tmp}/out"),
    "compare --hidden 2,x": _c("compare", "--hidden", "2,x", "--out", "{tmp}/out"),
    "compare unknown model": _c("compare", "--model", "rnn", "--out", "{tmp}/out"),
    "compare unknown optimizer": _c("compare", "--optimizer", "nope", "--out", "{tmp}/out"),
    "compare unknown activation": _c("compare", "--activation", "nope", "--out", "{tmp}/out"),
    "compare unknown device": _c("compare", "--device", "tpu", "--out", "{tmp}/out"),
    "compare --out is a file": _c("compare", "--out", "{tmp}/afile", NEW),
    "compare --out read-only": _c("compare", "--out", "{ro}/x", NEW),
    "run without config": _c("run"),
    "run --set without =": _c("run", "{cfg}", "--set", "training.epochs", NEW),
    "sweep --workers 0": _c("sweep", "{tmp}/sweep.yaml", "--workers", "0", NEW),
    "sweep unknown executor": _c("sweep", "{tmp}/sweep.yaml", "--executor", "dask", NEW),
    "sweep invalid trial": _c("sweep", "{tmp}/badsweep.yaml", NEW),
    "runs list unknown status": _c("runs", "list", "--status", "nope", "--store", "{store}"),
    "runs show without id": _c("runs", "show"),
    "runs show unknown id": _c("runs", "show", "zzz", "--store", "{store}"),
    "runs compare one id": _c("runs", "compare", "done", "--store", "{store}"),
    "report unknown id": _c("report", "zzz", "--store", "{store}"),
    "report --out read-only": _c("report", "done", "--store", "{store}", "--out", "{ro}/r.html"),
    "study run unknown study": _c("study", "run", "nope"),
    "study run unknown scale": _c("study", "run", "chinchilla", "--scale", "huge"),
    "study run --out read-only": _c("study", "run", "chinchilla", "--scale", "smoke", "--out", "{ro}/x"),
    # configs
    "malformed yaml": _c("run", "{tmp}/malformed.yaml", NEW),
    "empty config": _c("run", "{tmp}/empty.yaml", NEW),
    "config is a list": _c("run", "{tmp}/list.yaml", NEW),
    "config is a folder": _c("run", "{tmp}/cfgdir", NEW),
    "config missing": _c("run", "{tmp}/nope.yaml", NEW),
    "yaml alias bomb": _c("run", "{tmp}/bomb.yaml", NEW),
    "unknown key": _c("run", "{cfg}", "--set", "training.epohcs=3", NEW),
    "negative lr": _c("run", "{cfg}", "--set", "geometry.lr=-0.1", NEW),
    "lr nan": _c("run", "{cfg}", "--set", "geometry.lr=.nan", NEW),
    "lr 1e6": _c("run", "{cfg}", "--set", "geometry.lr=1000000.0", NEW),
    "unknown rule": _c("run", "{cfg}", "--set", "rule.name=hebb2", NEW),
    "unknown activation": _c("run", "{cfg}", "--set", "model.activation=nope", NEW),
    "huge layer": _c("run", "{cfg}", "--set", "model.hidden=[4000000000]", NEW),
    "n_train beyond the data": _c("run", "{cfg}", "--set", "data.n_train=1000000000", NEW),
    "unknown rule param": _c("run", "{cfg}", "--set", "rule.params.nope=1", NEW),
    "unknown dataset": _c("run", "{cfg}", "--set", "data.name=cifar", NEW),
    # data
    "dataset files missing": _c("run", "{cfg}", "--set", "data.name=mnist", "--set", "data.data_dir={tmp}/nodata", NEW),
    "dataset files corrupt": _c("run", "{cfg}", "--set", "data.name=mnist", "--set", "data.data_dir={tmp}/baddata",
                                NEW),
    "data dir is a file": _c("run", "{cfg}", "--set", "data.name=mnist", "--set", "data.data_dir={tmp}/afile", NEW),
    # store
    "store folder read-only": _c("run", "{cfg}", "--store", "{ro}/s.db"),
    "store corrupt": _c("run", "{cfg}", "--store", "{tmp}/corrupt.db"),
    "store is a folder": _c("run", "{cfg}", "--store", "{tmp}/dbdir.db"),
    "runs list missing store": _c("runs", "list", "--store", "{tmp}/none.db"),
    # paths and run ids
    "run id path traversal": _c("run", "{cfg}", "--run-id", "../../x", NEW),
    "run id absolute": _c("run", "{cfg}", "--run-id", "/tmp/x", NEW),
    "run id with a separator": _c("run", "{cfg}", "--run-id", "a/b", NEW),
    "run id exists": _c("run", "{cfg}", "--run-id", "done", "--store", "{store}"),
    "resume path traversal": _c("resume", "../x", "--store", "{store}"),
    # checkpoints
    "resume without checkpoint": _c("resume", "nockpt", "--store", "{store}"),
    "resume corrupt checkpoint": _c("resume", "corrupt", "--store", "{store}"),
    "resume crafted checkpoint": _c("resume", "crafted", "--store", "{store}"),
    "resume run_dir outside store": _c("resume", "escape", "--store", "{store}"),
    "resume finished run": _c("resume", "done", "--store", "{store}"),
    "resume unknown run": _c("resume", "zzz", "--store", "{store}"),
}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` (files with size and mtime): equal before and after means nothing
    was created, changed or left behind."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs:
            out[str((Path(dirpath) / name).relative_to(root))] = (0, 0)
        for name in files:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def run_case(w: dict[str, str], name: str) -> tuple[int, str, str, bool]:
    """(exit code, stdout, stderr, whether anything under the world folder changed)."""
    root = Path(w["tmp"])
    before = snapshot(root)
    cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    os.chdir(root / "cwd")  # default outputs (reports/, runs/) would land here
    try:
        with redirect_stdout(out), redirect_stderr(err):
            rc = main(CASES[name](w))
    finally:
        os.chdir(cwd)
    return rc, out.getvalue(), err.getvalue(), snapshot(root) != before


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("bad")
    w = make_world(tmp)
    (tmp / "cwd").mkdir()
    yield w
    Path(w["ro"]).chmod(0o755)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exit_2_one_line_nothing_written(world: dict[str, str], name: str, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rc, out, err, wrote = run_case(world, name)
    assert rc == 2, (name, rc, out, err)
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2 and lines[0].startswith("error: "), (name, err)
    assert out == "", (name, out)
    assert not wrote, name
    assert not (Path(world["tmp"]) / "PWNED").exists()


def test_at_least_40_cases() -> None:
    assert len(CASES) >= 40


if __name__ == "__main__":  # print the table for the notes
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        w = make_world(Path(d))
        (Path(d) / "cwd").mkdir()
        print("| # | bad input | exit | lines | written | message |\n|---|---|---|---|---|---|")
        for i, name in enumerate(CASES, 1):
            rc, out, err, wrote = run_case(w, name)
            lines = len((out + err).strip().splitlines())
            msg = (err.strip().splitlines() or [""])[0][:110].replace("|", "/")
            print(f"| {i} | {name} | {rc} | {lines} | {'yes' if wrote else 'no'} | `{msg}` |", flush=True)
        Path(w["ro"]).chmod(0o755)
    sys.exit(0)
