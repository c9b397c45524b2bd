"""No import cycles: the module graph has none (static check), and every module imports on its own in a fresh
interpreter (whichever module comes first)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import plasticity

SRC = Path(plasticity.__file__).parent

SCRIPT = r"""
import importlib, pkgutil, sys, traceback
import torch  # noqa: F401  (shared by every module; importing it once keeps the loop fast)
import plasticity
names = sorted(m.name for m in pkgutil.walk_packages(plasticity.__path__, "plasticity."))
failed = []
for name in ["plasticity", *names]:
    for key in [k for k in sys.modules if k == "plasticity" or k.startswith("plasticity.")]:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
print(len(names) + 1)
print("\n".join(failed))
"""


def _modules() -> dict[str, Path]:
    out = {}
    for f in SRC.rglob("*.py"):
        parts = ["plasticity", *f.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _module_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules imported at module level (not inside functions) by ``name``, resolved to known module names."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        nodes = [node]
        if isinstance(node, ast.If | ast.Try):      # e.g. `if TYPE_CHECKING:` is skipped below
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            nodes = list(ast.walk(node))
        for n in nodes:
            targets: list[str] = []
            if isinstance(n, ast.Import):
                targets = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (n.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base] + [f"{base}.{a.name}" for a in n.names]
            found |= {t for t in targets if t in known}
    return found


def test_module_graph_has_no_cycle() -> None:
    """Edges: module-level imports, plus the ``__init__`` of every package entered from outside it."""
    mods = _modules()
    known = set(mods)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges = set()
        for target in _module_level_imports(name, path, known):
            edges.add(target)
            parts = target.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if not (name == parent or name.startswith(parent + ".")):
                    edges.add(parent)
        graph[name] = edges - {name}
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_function_level_import_from_the_rule_registry() -> None:
    """The registry is a leaf; rules that need it import it at module level (curl.py used to hide a cycle)."""
    for path in (SRC / "rules").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for n in ast.walk(node):
                    assert not (isinstance(n, ast.ImportFrom) and (n.module or "").endswith("registry")), path.name


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    count, *failed = out.stdout.strip().splitlines()
    assert int(count) > 50
    assert not [f for f in failed if f], "\n".join(failed)
