from __future__ import annotations

import json

from plasticity.cli import main
from plasticity.studies import get_study


def test_chinchilla_smoke_passes_and_writes_results(tmp_path):
    res = get_study("chinchilla").run(scale="smoke", out_dir=tmp_path, quiet=True)
    assert res.passed, [c.line() for c in res.checks]
    assert json.loads((tmp_path / "results.json").read_text())["passed"] is True
    assert (tmp_path / "approach2_bias.png").exists()


def test_study_cli_prints_checks(tmp_path, capsys):
    assert main(["study", "run", "chinchilla", "--scale", "smoke", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") >= 4 and "FAIL" not in out
    assert main(["study", "run", "chinchilla", "--scale", "huge", "--out", str(tmp_path)]) == 2
