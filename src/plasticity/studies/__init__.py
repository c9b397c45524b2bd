"""One module per paper; each defines ``STUDY``. ``get_study(name)`` / ``list_studies()`` discover them."""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from .base import SCALES, Study, StudyContext, StudyResult, parse_seeds
from .checks import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Check,
    CheckResult,
    accuracy_diff_se,
    accuracy_se,
    paired_diff_se,
    paper,
    replicate_diff_se,
)

_SKIP = {"base", "common", "checks", "schema", "ledger", "provenance"}


def list_studies() -> list[str]:
    """Names of all study modules in this package (each exposes ``STUDY``)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _SKIP and not m.name.startswith("_"))


def get_study(name: str) -> Study:
    """Import ``plasticity.studies.<name>`` and return its ``STUDY``; unknown names list the known ones."""
    names = list_studies()
    if name not in names:
        raise ConfigError(f"unknown study {name!r}; allowed: {', '.join(names) or '(none yet)'}")
    return importlib.import_module(f"{__name__}.{name}").STUDY


__all__ = ["FAIL", "INCONCLUSIVE", "PASS", "SCALES", "Check", "CheckResult", "Study", "StudyContext", "StudyResult",
           "accuracy_diff_se", "accuracy_se", "get_study", "list_studies", "paired_diff_se", "paper", "parse_seeds",
           "replicate_diff_se"]
