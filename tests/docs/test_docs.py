"""Docs cannot rot: every tutorial's code and every example runs, every public name has a docstring."""

from __future__ import annotations

import inspect
import re
import runpy
import types
from pathlib import Path

import pytest

import plasticity
from plasticity.rules.registry import RULES

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_every_public_name_has_a_docstring() -> None:
    missing = [n for n in plasticity.__all__
               if not n.startswith("__") and not inspect.getdoc(getattr(plasticity, n))]
    assert not missing, f"public names without a docstring: {missing}"


def test_api_page_lists_every_public_name() -> None:
    gen = runpy.run_path(str(ROOT / "docs" / "gen.py"), run_name="docs_gen")
    page = gen["api_page"]()
    for n in plasticity.__all__:
        if not n.startswith("__") and not isinstance(getattr(plasticity, n), types.ModuleType):
            assert f"::: plasticity.{n}\n" in page


def test_nav_pages_exist() -> None:
    nav = re.findall(r":\s*([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    generated = {"api.md", "examples.md", "gallery/index.md"}
    assert nav
    for page in nav:
        assert page in generated or (ROOT / "docs" / page).exists(), page
    for t in TUTORIALS:                       # every tutorial is reachable from the nav
        assert f"tutorials/{t.name}" in nav, t.name


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_code_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks, f"{page.name} has no python code"
    monkeypatch.chdir(tmp_path)
    saved = dict(RULES)                     # a tutorial may register a rule; keep the registry clean
    ns: dict[str, object] = {"__name__": "__tutorial__"}
    try:
        for code in blocks:
            exec(compile(code, str(page), "exec"), ns)
    finally:
        RULES.clear()
        RULES.update(saved)


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_short(script: Path) -> None:
    src = script.read_text()
    assert len(src.splitlines()) <= 60, f"{script.name} is over 60 lines"
    assert src.startswith('"""'), f"{script.name} needs a docstring saying what it shows"


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLASTICITY_SMOKE", "1")
    runpy.run_path(str(script), run_name="__main__")
