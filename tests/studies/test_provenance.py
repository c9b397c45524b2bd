"""Which code a ledger record ran: a study's sources and what changed since the record's revision."""

from __future__ import annotations

from plasticity.studies.provenance import (
    PACKAGE,
    changed_since,
    code_changes,
    code_fingerprint,
    mechanism_sources,
    study_sources,
)


def test_study_sources_follow_imports_transitively() -> None:
    files = {str(p.relative_to(PACKAGE)) for p in study_sources("ep")}
    assert {"studies/ep.py", "rules/ep.py", "models/energy.py", "studies/checks.py"} <= files
    assert "studies/dfa.py" not in files and "__init__.py" not in files
    mech = {str(p.relative_to(PACKAGE)) for p in mechanism_sources("ep")}
    assert "rules/ep.py" in mech and "studies/checks.py" not in mech


def test_code_fingerprint_ignores_docstrings_and_comments_only() -> None:
    a = 'def f(x):\n    """Old text."""\n    return x + 1  # one\n'
    b = 'def f(x):\n    """New, longer text."""\n    # a comment\n    return x + 1\n'
    c = 'def f(x):\n    """Old text."""\n    return x + 2\n'
    assert code_fingerprint(a) == code_fingerprint(b) != code_fingerprint(c)


def test_nothing_changed_since_head_and_unknown_revisions_say_so() -> None:
    files = mechanism_sources("bilateral")
    now = changed_since("HEAD", files)
    assert now in ([], None)  # None only outside a git checkout
    assert changed_since("0" * 40, files) is None
    rows = code_changes([{"study": "bilateral", "scale": "small", "seed": 0, "revision": "HEAD+dirty"}])
    assert rows[0]["dirty"] and rows[0]["changed"] in ([], None)
