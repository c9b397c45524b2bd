"""The study framework: typed configs, seeds, verdicts, results.json, the CLI's exit codes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from plasticity.errors import ConfigError, PlasticityError
from plasticity.studies import Check, Study, StudyContext, get_study, paper, parse_seeds


def _run(cfg: dict[str, Any], ctx: StudyContext) -> dict[str, Any]:
    return {"acc": 0.5 + 0.1 * ctx.seed, "ref": cfg["ref"]}


def _checks(m: dict[str, Any], cfg: dict[str, Any]) -> list[Check]:
    return [Check("acc near paper", m["acc"], ">=", paper("acc"), tol=0.05, reference=m["ref"], floor=0.3),
            Check("acc above half", m["acc"], ">", 0.55, seed_rate=0.5)]


TOY = Study("toy", "Toy", "A. Author", 2024, "https://example.org", "toy claim",
            {"smoke": {"lr": 0.1, "epochs": 2, "ref": 0.9, "hidden": [4], "name": "x", "frac": 0.5},
             "small": {"lr": 0.1, "epochs": 3, "ref": 0.9, "hidden": [4], "name": "x", "frac": 0.5}},
            _run, _checks, paper_values={"acc": 0.6}, deviations=["toy data"], tuned_seeds=(0,))


@pytest.mark.parametrize(("key", "value", "msg"), [
    ("epochs", "three", "'epochs' must be an integer > 0"),
    ("epochs", 2.5, "'epochs'"),
    ("lr", -1.0, "'lr' must be a number > 0"),
    ("lr", float("nan"), "'lr'"),
    ("hidden", [0], "'hidden'"),
    ("frac", 1.5, r"'frac' must be a number in \[0, 1\]"),
    ("name", 3, "'name' must be a string"),
    ("nokey", 1, "no config key 'nokey'"),
])
def test_bad_config_names_key_and_range(key: str, value: Any, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        TOY.config("smoke", **{key: value})


def test_config_coerces_ints_to_floats() -> None:
    assert TOY.config("smoke", lr=1)["lr"] == 1.0


def test_result_carries_deviations_status_and_paper_source(tmp_path: Path) -> None:
    r = TOY.run("smoke", out_dir=tmp_path, seed=1)
    assert r.status == "PASS" and r.deviations == ["toy data"] and r.exit_code == 0
    d = json.loads((tmp_path / "results.json").read_text())
    assert d["status"] == "PASS" and d["deviations"] == ["toy data"] and d["checks"][0]["source"] == "acc"
    r2 = TOY.run("smoke", out_dir=tmp_path, seed=0, ref=0.1)
    assert r2.status == "FAIL"  # the second check fails on seed 0 ...
    assert r2.checks[0].status == "INCONCLUSIVE"  # ... and the first has a reference below its floor


def test_run_seeds_pass_rates(tmp_path: Path) -> None:
    seen = []
    r = TOY.run_seeds([0, 1, 2], "smoke", out_dir=tmp_path, on_result=seen.append)
    assert [x.seeds for x in seen] == [[0], [1], [2]]
    by = {c.name: c for c in r.checks}
    assert by["acc near paper"].measured == "2/3 seeds pass" and by["acc near paper"].status == "FAIL"
    assert by["acc above half"].status == "PASS"  # seed_rate 0.5: 2 of 3 is enough
    assert set(by["acc near paper"].per_seed) == {"0", "1", "2"}
    assert (tmp_path / "seed2" / "results.json").exists() and (tmp_path / "results.json").exists()


@pytest.mark.parametrize(("text", "seeds"), [("0-4", [0, 1, 2, 3, 4]), ("0,3,7", [0, 3, 7]), ("0-1,5", [0, 1, 5])])
def test_parse_seeds(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["three", "4-1", "", "0,0", "-1"])
def test_parse_seeds_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds(text)


def test_missing_dataset_is_a_data_error_not_a_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plasticity.errors import DataError

    monkeypatch.setenv("PLASTICITY_DATA", str(tmp_path))
    with pytest.raises(DataError):
        get_study("devices").run("smoke", out_dir=tmp_path / "o", quiet=True, dataset="mnist")


def test_cli_seeds_and_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``study run --seeds 0-2 --record``: pass rates per check, one ledger record per seed, held-out seeds named."""
    from typer.testing import CliRunner

    import plasticity.studies as S
    from plasticity.cli import app

    monkeypatch.setattr(S, "get_study", lambda name: TOY)
    monkeypatch.setenv("PLASTICITY_RESULTS", str(tmp_path / "results"))
    out = CliRunner().invoke(app, ["study", "run", "toy", "--scale", "smoke", "--seeds", "0-2", "--record",
                                   "--out", str(tmp_path / "out")])
    assert out.exit_code == 1, out.output  # "acc near paper" passes on 2 of 3 seeds only
    assert "2/3 seeds pass" in out.output and "held out: 1, 2" in out.output and "toy data" in out.output
    recs = sorted((tmp_path / "results" / "toy" / "smoke").glob("seed*.json"))
    assert [p.name for p in recs] == ["seed0.json", "seed1.json", "seed2.json"]
    assert json.loads(recs[1].read_text())["held_out"] is True


def test_cli_record_refuses_overrides_and_bad_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import plasticity.studies as S
    from plasticity.cli import app

    monkeypatch.setattr(S, "get_study", lambda name: TOY)
    monkeypatch.setenv("PLASTICITY_RESULTS", str(tmp_path / "results"))
    runner = CliRunner()
    for args, msg in ((["--record", "--set", "lr=0.2"], "--record takes no --set"),
                      (["--seeds", "three"], "--seeds"),
                      (["--set", "epochs=three"], "'epochs' must be an integer > 0")):
        out = runner.invoke(app, ["study", "run", "toy", "--scale", "smoke", *args])
        # a user error: exit 2 with one line, or (inside the app, before the entry point's handler) the error itself
        text = out.output + str(out.exception or "")
        assert out.exit_code == 2 or isinstance(out.exception, PlasticityError), out.output
        assert msg in text
    assert not (tmp_path / "results").exists() and not (tmp_path / "out").exists()


def test_sub_seeds_are_disjoint_across_top_level_seeds() -> None:
    """Inner replicates of held-out seeds 1..4 never reuse those of the tuned seed 0 (nor each other's)."""
    import torch

    blocks = [StudyContext(out_dir=Path("."), device=torch.device("cpu"), seed=k, scale="small").sub_seeds(5)
              for k in range(5)]
    flat = [s for b in blocks for s in b]
    assert len(set(flat)) == len(flat) == 25 and blocks[0] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("statuses", "rate", "want"), [
    (["PASS"] * 5, 1.0, "PASS"),
    (["PASS"] * 4 + ["INCONCLUSIVE"], 1.0, "INCONCLUSIVE"),
    (["INCONCLUSIVE"] * 4 + ["FAIL"], 1.0, "FAIL"),          # one clear failure: all five can no longer pass
    (["PASS"] * 4 + ["FAIL"], 0.8, "PASS"),
    (["PASS"] * 3 + ["INCONCLUSIVE", "FAIL"], 0.8, "INCONCLUSIVE"),
    (["PASS"] * 3 + ["FAIL", "FAIL"], 0.8, "FAIL"),
    ([], 1.0, "FAIL"),
])
def test_combine_statuses_fails_only_when_the_failures_decide(statuses: list[str], rate: float, want: str) -> None:
    from plasticity.studies.base import combine_statuses

    assert combine_statuses(statuses, rate) == want


def test_ledger_verdict_combines_each_check_over_seeds_like_the_cli() -> None:
    """The ledger's (study, scale) verdict is the CLI's: a check with seed_rate 0.8 failing on one seed of five
    passes; a check failing on one seed and inconclusive on the rest fails."""
    from plasticity.studies.ledger import seeds_verdict

    def rec(a: str, b: str) -> dict:
        return {"checks": [{"name": "a", "status": a, "seed_rate": 0.8}, {"name": "b", "status": b, "seed_rate": 1.0}]}

    assert seeds_verdict([rec("PASS", "PASS")] * 4 + [rec("FAIL", "PASS")]) == "PASS"
    assert seeds_verdict([rec("PASS", "INCONCLUSIVE")] * 4 + [rec("PASS", "FAIL")]) == "FAIL"
    assert seeds_verdict([rec("PASS", "PASS")] * 4 + [rec("PASS", "INCONCLUSIVE")]) == "INCONCLUSIVE"


def test_tuned_seeds_per_scale_and_kind(tmp_path: Path) -> None:
    """A scale (or every variant of a kind) may declare its own tuned seeds; the rest use the study's."""
    small = TOY.scales["small"]
    s = dataclasses.replace(TOY, scales={**TOY.scales, "cpu": small, "cpu-x": small}, scale_tuned_seeds={"cpu": ()})
    assert (s.tuned_for("small"), s.tuned_for("cpu"), s.tuned_for("cpu-x")) == ((0,), (), ())
    assert s.run(scale="cpu-x", out_dir=tmp_path, quiet=True).tuned_seeds == []
