"""dendrites study at smoke scale."""

from __future__ import annotations

import json

from plasticity.studies import get_study


def test_dendrites_smoke(tmp_path) -> None:
    res = get_study("dendrites").run("smoke", out_dir=tmp_path, quiet=True)
    assert (tmp_path / "results.json").exists() and (tmp_path / "dendrites.png").exists()
    assert json.loads((tmp_path / "results.json").read_text())["study"] == "dendrites"
    names = [c.name for c in res.checks]
    assert any("8.38e-13" in str(c.paper) or c.paper == 8.38e-13 for c in res.checks)
    assert len(names) == 5 and res.deviations
    assert res.passed, [c.line() for c in res.checks if not c.passed]
    assert all(r["estimable"] for r in res.metrics["mc"])
