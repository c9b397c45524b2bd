"""Which code a ledger record ran: a study's source files, and whether they changed since the record's revision.

A record stays *fresh* while its config hash matches (``ledger.stale_records``), but the rules, models and
circuits it imports may have changed since. ``code_changes`` lists, for every record, the study's source files
(its module and what it imports from ``plasticity``, transitively) that differ between the record's revision and
HEAD, so a reader knows which numbers predate the code they would run today. It is a report, not a test: a
changed dependency may or may not change the numbers, and only a re-run says which.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]
"""``src/plasticity``."""

FRAMEWORK = ("studies/base.py", "studies/checks.py", "studies/schema.py", "errors.py")
"""The check framework: a change there alters verdicts, not the stored metrics (``ledger --recheck`` re-evaluates
verdicts), so it does not count as a code change of a record's numbers."""


def _module_file(parts: list[str]) -> list[Path]:
    """The file(s) of module ``plasticity.<parts>``: ``x.py``, or a package's ``__init__.py``."""
    target = PACKAGE.joinpath(*parts)
    if target.with_suffix(".py").is_file():
        return [target.with_suffix(".py")]
    return [target / "__init__.py"] if (target / "__init__.py").is_file() else []


def _imports(path: Path) -> list[Path]:
    """The ``plasticity`` source files one file imports (relative or absolute imports; ``from pkg import mod``
    resolves to the module file when ``mod`` is one, else to the package's ``__init__``)."""
    here = list(path.relative_to(PACKAGE).parent.parts)
    out: list[Path] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
            elif node.module and node.module.split(".")[0] == "plasticity":
                base = []
            else:
                continue
            mod = [*base, *(node.module.split(".") if node.module else [])]
            if node.level == 0:
                mod = mod[1:]  # drop the leading "plasticity"
            for alias in node.names:
                sub = _module_file([*mod, alias.name])
                out += sub if sub and sub[0].name != "__init__.py" else _module_file(mod)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "plasticity":
                    out += _module_file(parts[1:])
    return out


def study_sources(name: str) -> list[Path]:
    """The study module ``studies/<name>.py`` and every ``plasticity`` file it imports, transitively (the
    top-level ``plasticity/__init__.py``, which imports everything, is left out), sorted."""
    start = PACKAGE / "studies" / f"{name}.py"
    top = PACKAGE / "__init__.py"
    seen: set[Path] = set()
    todo = [start]
    while todo:
        f = todo.pop()
        if f in seen or f == top or not f.is_file():
            continue
        seen.add(f)
        todo += _imports(f)
    return sorted(seen)


def mechanism_sources(name: str) -> list[Path]:
    """:func:`study_sources` without the check framework (:data:`FRAMEWORK`): the files that make the numbers."""
    framework = {PACKAGE / f for f in FRAMEWORK}
    return [f for f in study_sources(name) if f not in framework]


def code_fingerprint(source: str) -> str:
    """The AST of ``source`` without docstrings (comments are not in it): equal for two versions of a file that
    differ only in comments, docstrings or layout."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree, include_attributes=False)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None


def changed_since(revision: str, files: list[Path], cwd: Path | None = None) -> list[str] | None:
    """The ``files`` (repo-relative) whose code differs between ``revision`` and HEAD, changes to comments and
    docstrings alone not counted; ``None`` when git cannot say (no checkout, a revision this clone lacks)."""
    cwd = cwd or PACKAGE.parents[1]
    rev = revision.split("+")[0]
    res = _git(["diff", "--name-only", rev, "HEAD", "--", *map(str, files)], cwd)
    if res is None or res.returncode != 0:
        return None
    out = []
    for name in res.stdout.split():
        old, new = _git(["show", f"{rev}:{name}"], cwd), _git(["show", f"HEAD:{name}"], cwd)
        try:
            same = (old is not None and new is not None and old.returncode == 0 and new.returncode == 0
                    and code_fingerprint(old.stdout) == code_fingerprint(new.stdout))
        except SyntaxError:
            same = False
        if not same:
            out.append(name)
    return sorted(out)


def code_changes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per record: study, scale, seed, revision, whether it ran on a dirty tree, and the study's mechanism
    files (:func:`mechanism_sources`) changed since (``None``: unknown)."""
    sources: dict[str, list[Path]] = {}
    out = []
    for d in records:
        files = sources.setdefault(d["study"], mechanism_sources(d["study"]))
        out.append({"study": d["study"], "scale": d["scale"], "seed": d["seed"], "revision": d["revision"],
                    "dirty": "+" in str(d["revision"]), "changed": changed_since(str(d["revision"]), files)})
    return out
