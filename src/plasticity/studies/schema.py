"""Typed study configs: a pydantic model per study, inferred from its scales, with ranges by key.

Each key's type is the type its values have across the study's scales (``None`` in one scale makes it
optional); counts, sizes and rates must be positive by name (``lr``, ``epochs``, ``n_*``, ``*_steps``...),
fractions lie in [0, 1], and a study adds its own ``limits``. A bad value is one line naming the key and
its allowed range, like the run configs of :mod:`plasticity.lab.config`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

Limit = tuple[float | None, float | None]

_POSITIVE = re.compile(r"^(lr|.*_lr|epochs|.*_epochs|steps|.*_steps|batch_size|.*_batch_size|seeds|.*_seeds|"
                       r"n|n_.*|.*_n|T|T\d|.*_T\d?|width|.*_width|depth|d|p|context|.*_inits|inits|"
                       r"max_.*|.*_windows|levels|hidden|.*_hidden)$")
_FRACTION = re.compile(r"^(frac|.*fraction.*|.*_frac|frac_.*|.*_rate|dropout.*|.*_dropout)$")


_ORDER = ("int", "float", "bool", "str", "list", "dict", "any")


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list | tuple):
        return "list"
    if isinstance(v, dict):
        return "dict"
    return "any"


def infer_kinds(scales: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """For each key, the set of value kinds it has across scales ('none' for None)."""
    kinds: dict[str, set[str]] = {}
    for cfg in scales.values():
        for k, v in cfg.items():
            kinds.setdefault(k, set()).add("none" if v is None else _kind(v))
    return kinds


def default_limit(key: str, values: list[Any]) -> Limit | None:
    """The range a key must lie in by its name, or ``None``; only applied when every default obeys it."""
    nums = [x for v in values for x in (v if isinstance(v, list | tuple) else [v])
            if isinstance(x, int | float) and not isinstance(x, bool)]
    if _FRACTION.match(key) and all(0 <= x <= 1 for x in nums):
        return (0.0, 1.0)
    if _POSITIVE.match(key):
        if nums and all(x > 0 for x in nums):
            return (1e-300, None)
        if nums and all(x >= 0 for x in nums):
            return (0.0, None)
    return None


def _describe(kinds: set[str], lim: Limit | None) -> str:
    names = {"int": "an integer", "float": "a number", "bool": "true/false", "str": "a string", "list": "a list",
             "dict": "a mapping", "any": "a value"}
    base = " or ".join(names[k] for k in sorted(kinds - {"none"}) if k in names) or "a value"
    if "none" in kinds:
        base += " or null"
    if lim is not None:
        lo, hi = lim
        if lo == 1e-300:
            base += " > 0"
        elif lo is not None and hi is not None:
            base += f" in [{lo:g}, {hi:g}]"
        elif lo is not None:
            base += f" >= {lo:g}"
        elif hi is not None:
            base += f" <= {hi:g}"
    return base


def _coerce(kind: str, v: Any) -> Any:
    from pydantic import StrictBool, StrictStr, TypeAdapter, ValidationError

    types: dict[str, Any] = {"int": int, "float": float, "bool": StrictBool, "str": StrictStr, "list": list,
                             "dict": dict}
    if kind == "any":
        return v
    if kind == "int" and isinstance(v, float) and not v.is_integer():
        raise ValueError
    if kind in ("int", "float") and isinstance(v, bool | str):
        raise ValueError
    try:
        return TypeAdapter(types[kind]).validate_python(v)
    except ValidationError:
        raise ValueError from None


def _in_range(v: Any, lim: Limit) -> bool:
    lo, hi = lim
    xs = v if isinstance(v, list | tuple) else [v]
    for x in xs:
        if not isinstance(x, int | float) or isinstance(x, bool):
            continue
        if math.isnan(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
            return False
    return True


def validate(study: str, scales: Mapping[str, Mapping[str, Any]], cfg: dict[str, Any],
             limits: Mapping[str, Limit] | None = None, keys: set[str] | None = None) -> dict[str, Any]:
    """Type-check and range-check ``cfg`` (only ``keys`` if given); return it with values coerced."""
    kinds = infer_kinds(scales)
    limits = dict(limits or {})
    out = dict(cfg)
    for k in sorted(keys if keys is not None else cfg):
        v = cfg[k]
        ks = kinds.get(k, {"any"})
        lim = limits.get(k, default_limit(k, [s[k] for s in scales.values() if k in s]))
        allowed = _describe(ks, lim)
        if v is None:
            if "none" not in ks:
                raise ConfigError(f"study {study!r} config key {k!r} must be {allowed}, got null")
            continue
        for kind in [x for x in _ORDER if x in ks]:
            try:
                v2 = _coerce(kind, v)
                break
            except ValueError:
                continue
        else:
            raise ConfigError(f"study {study!r} config key {k!r} must be {allowed}, got {v!r}")
        if "int" in ks and "float" not in ks and isinstance(v2, float):
            v2 = int(v2)
        if isinstance(v2, float) and math.isnan(v2):
            raise ConfigError(f"study {study!r} config key {k!r} must be {allowed}, got nan")
        if lim is not None and not _in_range(v2, lim):
            raise ConfigError(f"study {study!r} config key {k!r} must be {allowed}, got {v!r}")
        out[k] = v2
    return out
