"""CLI: run/resume/runs/report/sweep happy paths, and every bad input -> one line, exit 2, store untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plasticity.cli import main
from plasticity.lab.store import RunStore
from plasticity.testing import TINY_RUN_YAML as TINY


def _tiny(tmp: Path) -> Path:
    p = tmp / "tiny.yaml"
    p.write_text(TINY)
    return p


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    cfg = _tiny(tmp)
    (tmp / "malformed.yaml").write_text("model: [\n")
    ro = tmp / "ro"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    corrupt = tmp / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage, not sqlite" * 40)
    store = str(tmp / "store.db")
    return {
        "malformed yaml": (["run", str(tmp / "malformed.yaml"), "--store", store], "not valid YAML"),
        "unknown key": (["run", str(cfg), "--set", "training.epohcs=3", "--store", store], "unknown key"),
        "negative lr": (["run", str(cfg), "--set", "geometry.lr=-0.1", "--store", store], "geometry.lr=-0.1"),
        "unknown rule": (["run", str(cfg), "--set", "rule.name=hebb2", "--store", store], "rule.name='hebb2'"),
        "read-only folder": (["run", str(cfg), "--store", str(ro / "s.db")], "not writable"),
        "corrupt store": (["run", str(cfg), "--store", str(corrupt)], "corrupt"),
    }


@pytest.mark.parametrize("case", ["malformed yaml", "unknown key", "negative lr", "unknown rule", "read-only folder",
                                  "corrupt store"])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path: Path, case: str, capsys) -> None:
    args, needle = _bad_inputs(tmp_path)[case]
    before = (tmp_path / "corrupt.db").read_bytes()
    rc = main([*args, "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "store.db").exists()
    assert list((tmp_path / "ro").iterdir()) == []
    assert (tmp_path / "corrupt.db").read_bytes() == before
    assert not list(tmp_path.glob("tiny-*"))
    (tmp_path / "ro").chmod(0o755)


@pytest.mark.slow
def test_bad_inputs_in_real_subprocesses(tmp_path: Path) -> None:
    cases = _bad_inputs(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "OMP_NUM_THREADS": "1"}
    for case in ("malformed yaml", "read-only folder"):
        args, needle = cases[case]
        res = subprocess.run([sys.executable, "-m", "plasticity.cli", *args], env=env, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 2, (case, res.stderr)
        assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "store.db").exists()
    (tmp_path / "ro").chmod(0o755)


def test_run_list_show_compare_report_resume(tmp_path: Path, capsys) -> None:
    cfg, store = _tiny(tmp_path), str(tmp_path / "runs" / "s.db")
    assert main(["run", str(cfg), "--store", store, "--run-id", "a", "--quiet"]) == 0
    assert main(["run", str(cfg), "--store", store, "--run-id", "b", "--set", "rule.name=bp", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "run a: finished" in out and "run b: finished" in out
    assert main(["run", str(cfg), "--store", store, "--run-id", "a", "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["runs", "list", "--store", store]) == 0
    assert "finished" in capsys.readouterr().out
    assert main(["runs", "show", "a", "--store", store]) == 0
    assert "train_loss" in capsys.readouterr().out
    assert main(["runs", "compare", "a", "b", "--store", store]) == 0
    assert "rule.name" in capsys.readouterr().out
    assert main(["report", "a", "--store", store]) == 0
    html = (tmp_path / "runs" / "a" / "report.html").read_text()
    assert "data:image/png;base64," in html and "<img src='http" not in html
    assert main(["resume", "a", "--store", store, "--quiet"]) == 2
    assert "already finished" in capsys.readouterr().err
    assert main(["report", "zzz", "--store", store]) == 2
    with RunStore(store) as st:
        assert st.counts()["runs"] == 2 and st.counts()["metrics"] == 4


def test_diverged_run_exit_1_and_status(tmp_path: Path, capsys) -> None:
    cfg, store = _tiny(tmp_path), str(tmp_path / "s.db")
    rc = main(["run", str(cfg), "--store", store, "--run-id", "d", "--quiet", "--set", "data.name=student_teacher",
               "--set", "geometry.lr=10"])
    assert rc == 1
    assert "diverged" in capsys.readouterr().out
    with RunStore(store) as st:
        run = st.get_run("d")
        assert run["status"] == "diverged" and "at step" in run["message"]


def test_sweep_cli_and_rerun_skips(tmp_path: Path, capsys) -> None:
    _tiny(tmp_path)
    spec = tmp_path / "sw.yaml"
    spec.write_text("name: s\nbase: tiny.yaml\nset: {training.epochs: 1}\nlist:\n  - {rule.name: bp}\n"
                    "  - {rule.name: fa}\n")
    store = str(tmp_path / "s.db")
    assert main(["sweep", str(spec), "--store", store, "--executor", "inline", "--quiet"]) == 0
    assert "skipped 0, ran 2 (finished 2)" in capsys.readouterr().out
    assert main(["sweep", str(spec), "--store", store, "--quiet"]) == 0
    assert "skipped 2, ran 0" in capsys.readouterr().out
    with RunStore(store) as st:
        sweep_id = st.list_sweeps()[0]["id"]
    assert main(["report", sweep_id, "--store", store]) == 0
    assert "report:" in capsys.readouterr().out


def test_study_run_set_overrides_and_rejects_unknown_keys(tmp_path, capsys) -> None:
    from plasticity.cli import main

    assert main(["study", "run", "chinchilla", "--scale", "smoke", "--set", "nope=1", "--out", str(tmp_path)]) == 2
    assert "no config key 'nope'" in capsys.readouterr().err
    main(["study", "run", "chinchilla", "--scale", "smoke", "--set", "points=40", "--out", str(tmp_path)])
    import json

    assert json.loads((tmp_path / "results.json").read_text())["config"]["points"] == 40


def test_bare_plasticity_prints_help_exit_0(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr()
    assert "Usage: plasticity" in out.out and "run" in out.out and out.err == ""
    assert main(["runs"]) == 0 and "Usage: plasticity runs" in capsys.readouterr().out


def test_help_and_study_list_import_no_torch_scipy_sklearn() -> None:
    code = ("import sys\nfrom plasticity.cli import main\nassert main(['--help']) == 0\n"
            "assert main(['study', 'list']) == 0\n"
            "heavy = [m for m in ('torch', 'scipy', 'sklearn', 'matplotlib') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "import plasticity\nplasticity.Trainer\n"
            "assert 'sklearn' not in sys.modules and 'scipy.stats' not in sys.modules\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "chinchilla" in res.stdout


def test_runs_list_piped_full_ids_json_and_escaped_names(tmp_path: Path, capsys, monkeypatch) -> None:
    """Piped: one tab-separated line per run with the full id; --json; '[...]' in trial names survives rich."""
    import json

    _tiny(tmp_path)
    spec = tmp_path / "sw.yaml"
    spec.write_text("name: a-rather-long-sweep-name-for-the-id-column\nbase: tiny.yaml\nset: {training.epochs: 1}\n"
                    "list:\n  - {rule.name: bp}\n  - {rule.name: fa}\n")
    store = str(tmp_path / "s.db")
    assert main(["sweep", str(spec), "--store", store, "--executor", "inline", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["runs", "list", "--store", store]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("id\tname\tstatus")
    ids = [ln.split("\t")[0] for ln in lines[1:]]
    with RunStore(store) as st:
        assert ids == [r["id"] for r in st.list_runs()]
    assert "[name=fa]" in lines[2]
    assert main(["runs", "list", "--store", store, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ids and rows[1]["name"].endswith("[name=fa]")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["runs", "list", "--store", store]) == 0
    assert "[name=fa]" in capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", "80")  # a narrow terminal: ids still whole
    assert main(["runs", "list", "--store", store]) == 0
    tty = capsys.readouterr().out
    assert all(i in tty for i in ids), tty


def test_compare_and_study_run_record_in_store_unless_no_store(tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "s.db")
    args = ["compare", "--rules", "bp,fa", "--epochs", "1", "--hidden", "8", "--quiet", "--store", store]
    assert main([*args, "--out", str(tmp_path / "c")]) == 0
    assert "recorded as compare-digits-" in capsys.readouterr().out
    with RunStore(store) as st:
        runs = st.list_runs()
        assert sorted(r["name"] for r in runs) == ["compare[bp]", "compare[fa]"]
        assert all(r["status"] == "finished" for r in runs) and st.results(runs[0]["id"])["test_accuracy"] > 0
    assert main([*args, "--out", str(tmp_path / "c2"), "--no-store"]) == 0
    assert main(["study", "run", "chinchilla", "--scale", "smoke", "--out", str(tmp_path / "st"), "--store", store,
                 "--quiet"]) in (0, 1)
    assert "recorded as study-chinchilla-smoke-" in capsys.readouterr().out
    with RunStore(store) as st:
        assert st.counts()["runs"] == 3
        study = next(r for r in st.list_runs() if r["name"].startswith("study"))
        assert "passed" in st.results(study["id"])


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    from plasticity.utils import atomic_write_text

    old = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "r.html", "x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644
