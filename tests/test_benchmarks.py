"""The benchmark scripts import, parse their arguments, and the fast ones run end to end at a tiny size.

They are not timed here (speed targets live in the scripts' ratio tables); this only keeps them from rotting.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
WITH_ARGS = [p for p in SCRIPTS if "argparse" in p.read_text()]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _main(path: Path, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [path.name, *argv])
    _load(path).main()


def test_there_are_benchmarks() -> None:
    assert len(SCRIPTS) >= 5 and len(WITH_ARGS) >= 5


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_imports_and_has_main(path: Path) -> None:
    assert callable(getattr(_load(path), "main", None)), f"{path.name} has no main()"


@pytest.mark.parametrize("path", WITH_ARGS, ids=lambda p: p.stem)
def test_benchmark_help(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        _main(path, ["--help"], monkeypatch)
    assert e.value.code == 0
    assert "usage" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "argv"), [
    ("optim_step", ["--numel", "1000", "--repeats", "2"]),
    ("step_time", ["--repeats", "2", "--rules", "bp,dfa"]),
    ("ep_step", ["--sizes", "8,8,4", "--batch", "4", "--repeats", "1", "--T1", "3", "--T2", "2"]),
])
def test_fast_benchmark_runs(name: str, argv: list[str], monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    _main(BENCH / f"{name}.py", argv, monkeypatch)
    assert capsys.readouterr().out.strip()
