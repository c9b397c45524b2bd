"""The results ledger: records, config hashes, stale records, the README table, no paper literals in checks."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

from plasticity.studies import SCALES, get_study, list_studies, schema
from plasticity.studies import ledger as L
from plasticity.studies.base import StudyResult, scale_kind

REPO = Path(__file__).resolve().parents[2]


def _result(seed: int = 3) -> StudyResult:
    """A dendrites small result whose metrics are a real record's and whose verdicts are the current checks'."""
    study = get_study("dendrites")
    cfg = study.config("small")
    metrics = json.loads((REPO / "results" / "dendrites" / "small" / "seed0.json").read_text())["metrics"]
    return StudyResult("dendrites", "small", cfg, metrics, study.evaluate(metrics, cfg), [], "/nowhere",
                       1.5, deviations=["d"], seeds=[seed], tuned_seeds=[0])


def test_record_holds_what_a_reader_needs(tmp_path: Path) -> None:
    p = L.record(_result(), root=tmp_path, command=["plasticity", "study", "run", "dendrites"])
    d = json.loads(p.read_text())
    assert p == tmp_path / "dendrites" / "small" / "seed3.json"
    for key in ("config", "config_hash", "revision", "command", "wall_s", "device", "torch", "metrics", "checks",
                "deviations", "status", "held_out"):
        assert key in d, key
    assert d["held_out"] is True and d["status"] == "PASS" and d["config_hash"] == L.config_hash(d["config"])
    assert L.stale_records(tmp_path) == []


def test_changed_config_makes_record_stale(tmp_path: Path) -> None:
    p = L.record(_result(), root=tmp_path)
    d = json.loads(p.read_text())
    d["config_hash"] = "0" * 16  # as if the study's small config had changed since the run
    p.write_text(json.dumps(d))
    stale = L.stale_records(tmp_path)
    assert len(stale) == 1 and "seed3.json" in stale[0] and "re-run" in stale[0]


def test_changed_verdicts_make_record_stale_and_recheck_reevaluates_them(tmp_path: Path) -> None:
    p = L.record(_result(), root=tmp_path)
    d = json.loads(p.read_text())
    first = d["checks"][0]["name"]
    d["checks"][0]["status"] = "FAIL"  # as if the check had been declared differently when the run was recorded
    d["status"] = "FAIL"
    p.write_text(json.dumps(d))
    stale = L.stale_records(tmp_path)
    assert len(stale) == 1 and "verdicts differ" in stale[0] and first in stale[0] and "--recheck" in stale[0]
    assert L.recheck(tmp_path, revision="abc") == [p]
    d2 = json.loads(p.read_text())
    assert d2["metrics"] == d["metrics"] and d2["status"] == "PASS" and d2["checks"][0]["status"] == "PASS"
    assert d2["rechecks"][0]["revision"] == "abc" and d2["rechecks"][0]["status_before"] == "FAIL"
    assert d2["rechecks"][0]["checks_before"][first] == "FAIL"
    assert L.stale_records(tmp_path) == [] and L.recheck(tmp_path) == []


def test_recheck_leaves_a_changed_config_to_a_rerun(tmp_path: Path) -> None:
    p = L.record(_result(), root=tmp_path)
    d = json.loads(p.read_text())
    d["config_hash"], d["checks"][0]["status"] = "0" * 16, "FAIL"
    p.write_text(json.dumps(d))
    assert L.recheck(tmp_path) == [] and "config hash" in L.stale_records(tmp_path)[0]


def test_record_refuses_overrides(tmp_path: Path) -> None:
    from plasticity.errors import ConfigError

    with pytest.raises(ConfigError, match="--record"):
        L.record(_result(), root=tmp_path, overridden=True)


def test_table_marks_missing_runs(tmp_path: Path) -> None:
    L.record(_result(), root=tmp_path)
    table = L.markdown_table(tmp_path)
    assert "| dendrites | small | PASS | 3 |" in table and "| dendrites | paper | not yet run |" in table


def test_repository_ledger_has_no_stale_record() -> None:
    """A record whose study config changed must be re-run or deleted, never edited by hand."""
    assert L.stale_records(REPO / "results") == []


def test_readme_table_is_generated_from_the_ledger() -> None:
    text = (REPO / "README.md").read_text()
    start, end = text.index(L.README_START), text.index(L.README_END)
    assert text[start + len(L.README_START):end].strip() == L.markdown_table(REPO / "results").strip(), (
        "README results table is out of date: run `python -m plasticity.studies.ledger --readme README.md`")


@pytest.mark.parametrize("name", list_studies())
def test_every_scale_config_is_valid(name: str) -> None:
    s = get_study(name)
    for scale, cfg in s.scales.items():
        schema.validate(name, s.scales, dict(cfg), s.limits)
        assert scale_kind(scale) in SCALES


def _paper_numbers(values: dict) -> set[float]:
    out: set[float] = set()
    for v in values.values():
        if isinstance(v, int | float) and not isinstance(v, bool) and v not in (0, 1):
            out |= {float(v), round(100 * float(v), 6)}
    return out


@pytest.mark.parametrize("name", list_studies())
def test_no_paper_number_is_a_literal_in_checks(name: str) -> None:
    """Paper numbers live once, in ``paper_values``; checks read them with ``paper(KEY)``."""
    s = get_study(name)
    numbers = _paper_numbers(s.paper_values)
    tree = ast.parse(inspect.getsource(inspect.getmodule(s.checks_fn)))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == s.checks_fn.__name__)
    found = [n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and isinstance(n.value, int | float)
             and not isinstance(n.value, bool) and float(n.value) not in (0.0, 1.0) and float(n.value) in numbers]
    assert not found, f"{name}: paper numbers written as literals in {s.checks_fn.__name__}: {found}"


# Studies whose checks still build CheckResult verdicts by hand (not yet declarative). This list only shrinks.
LEGACY: set[str] = set()


@pytest.mark.parametrize("name", list_studies())
def test_checks_are_declarations(name: str) -> None:
    """A study's checks are ``Check`` declarations evaluated by the framework (guards, paper_values), and
    the study states its deviations from the paper."""
    s = get_study(name)
    src = inspect.getsource(inspect.getmodule(s.checks_fn))
    legacy = "CheckResult(" in src
    if name in LEGACY:
        assert legacy, f"{name} is declarative now: remove it from LEGACY"
    else:
        assert not legacy, f"{name}: build Check declarations, not CheckResult verdicts"
        assert s.deviations, f"{name}: state the deviations from the paper (or why there are none)"


def test_revision_is_dirty_for_code_changes_but_not_for_records(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("{}")
    (tmp_path / "x.py").write_text("a = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    (tmp_path / "results" / "r.json").write_text('{"new": 1}')   # a record being written
    assert not L.git_revision(tmp_path).endswith("+dirty")
    (tmp_path / "x.py").write_text("a = 2\n")                      # a code change
    assert L.git_revision(tmp_path).endswith("+dirty")


def test_named_scale_variants_follow_their_kind_in_the_ledger() -> None:
    from plasticity.studies.base import ledger_scales

    assert scale_kind("cpu-fashion") == "cpu"
    assert ledger_scales(get_study("symstdp")) == ["small", "cpu", "cpu-fashion", "cpu-fashionnorm", "cpu-select",
                                                  "paper"]
