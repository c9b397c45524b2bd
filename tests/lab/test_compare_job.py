"""The main job end to end through the CLI entry point."""

from __future__ import annotations

import json

from plasticity.cli import main


def test_compare_writes_report(tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(["compare", "--rules", "bp,dfa-optical", "--epochs", "2", "--hidden", "32", "--out", str(out),
                 "--quiet"])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    assert set(res["rules"]) == {"bp", "dfa-optical"}
    assert res["rules"]["bp"]["test_accuracy"] > 0.5
    assert 0 < res["rules"]["dfa-optical"]["alignment_deg"] < 180
    assert (out / "learning_curves.png").stat().st_size > 1000
    assert "test acc" in capsys.readouterr().out


def test_compare_bad_names_are_one_line_errors(tmp_path, capsys):
    assert main(["compare", "--rules", "bp,nope", "--epochs", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown rule 'nope'") and "\n" not in err
    assert main(["compare", "--dataset", "cifar100", "--out", str(tmp_path)]) == 2
    assert "unknown dataset 'cifar100'" in capsys.readouterr().err
    assert main(["compare", "--hidden", "a,b", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "results.json").exists()


def test_compare_missing_mnist_is_one_line(tmp_path, capsys):
    assert main(["compare", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not found" in err and "plasticity data download mnist" in err and "Traceback" not in err


def test_compare_accepts_a_geometry_as_optimizer() -> None:
    from plasticity.lab.compare import compare_rules

    res = compare_rules(["bp"], epochs=1, optimizer="negentropy", lr=0.5, hidden=(32,))
    assert res["rules"]["bp"]["test_accuracy"] > 0.3
