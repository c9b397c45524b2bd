"""A rule and a geometry from a separately installed one-file package work by name: make_rule, check_rule,
``plasticity compare``, a YAML ``plasticity run`` and ``plasticity sweep``.

"Installed" = the package's module next to a ``*.dist-info`` folder holding its ``entry_points.txt`` on the
path, exactly what ``pip install`` leaves in site-packages (``importlib.metadata`` reads nothing else); built
here from the fixture's own ``pyproject.toml`` so the test needs no network, build backend or venv.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

FIXTURE = Path(__file__).parents[1] / "fixtures" / "plasticity_plugin_fixture"


def install_fixture(site: Path) -> Path:
    """Lay the fixture package out in ``site`` the way pip installs it (module + dist-info with entry points)."""
    meta = tomllib.loads((FIXTURE / "pyproject.toml").read_text())["project"]
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE / "plasticity_plugin_fixture.py", site)
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    lines = []
    for group, eps in meta["entry-points"].items():
        lines += [f"[{group}]", *(f"{k} = {v}" for k, v in eps.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    return site


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = install_fixture(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("plasticity_plugin_fixture", None)


def test_installed_rule_and_geometry_work_by_name(plugin_site: Path) -> None:
    from plasticity.geometry import GEOMETRY_NAMES, make_geometry
    from plasticity.lab.config import known_geometries, known_rules
    from plasticity.models import MLP
    from plasticity.rules import RULES, make_rule
    from plasticity.testing import check_rule

    assert "half-bp" in RULES and "half-bp" in known_rules()
    assert "plain-sgd" in GEOMETRY_NAMES and "plain-sgd" in known_geometries()
    rule = make_rule("half-bp", factor=0.25)
    assert rule.name == "half-bp" and "factor=0.25" in repr(rule)
    model = MLP([4, 3, 2])
    x, y = torch.randn(5, 4), torch.randint(0, 2, (5,))
    rule.step(model, x, y)
    g = model.layers[0].weight.grad.clone()
    make_rule("bp").step(model, x, y)
    torch.testing.assert_close(g, 0.25 * model.layers[0].weight.grad)
    assert isinstance(make_geometry("plain-sgd", model.parameters(), lr=0.1), torch.optim.SGD)
    assert check_rule("half-bp", geometries=("euclidean", "plain-sgd"))["grad"] == "ok"


def test_unknown_plugin_name_lists_the_installed_ones(plugin_site: Path) -> None:
    from plasticity.errors import ConfigError
    from plasticity.rules import make_rule

    with pytest.raises(ConfigError, match="half-bp"):
        make_rule("half-bpx")


def _cli(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "plasticity.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.mark.slow
def test_plugin_rule_in_compare_run_and_sweep(tmp_path: Path) -> None:
    site = install_fixture(tmp_path / "site")
    out = _cli(["compare", "--rules", "bp,half-bp", "--epochs", "1", "--hidden", "16", "--quiet",
                "--out", str(tmp_path / "cmp")], site, tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout
    res = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert set(res["rules"]) == {"bp", "half-bp"}
    cfg = tmp_path / "plugin.yaml"
    cfg.write_text("name: plugin-run\nseed: 0\nmodel: {kind: mlp, hidden: [16]}\n"
                   "rule: {name: half-bp, params: {factor: 0.5}}\ngeometry: {name: plain-sgd, lr: 0.05}\n"
                   "data: {name: digits}\ntraining: {epochs: 1, batch_size: 64}\n")
    out = _cli(["run", str(cfg), "--quiet", "--store", str(tmp_path / "runs.db")], site, tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout
    (tmp_path / "base.yaml").write_text(cfg.read_text().replace(", params: {factor: 0.5}", ""))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("name: plugin-sweep\nbase: base.yaml\ngrid:\n  rule.name: [bp, half-bp]\n")
    out = _cli(["sweep", str(sweep), "--workers", "1", "--executor", "inline", "--quiet",
                "--store", str(tmp_path / "runs.db")], site, tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "ran 2 (finished 2)" in out.stdout.replace("\n", " ") or "failed" not in out.stdout, out.stdout
