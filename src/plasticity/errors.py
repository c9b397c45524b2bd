"""User-facing errors: one line that names the problem and the fix (the CLI prints them without a traceback)."""

from __future__ import annotations


class PlasticityError(Exception):
    """Base class for errors caused by user input (configs, names, files), not by bugs."""


class ConfigError(PlasticityError, ValueError):
    """An invalid name, argument or configuration value; the message names the key and what is allowed."""


class DataError(PlasticityError, OSError):
    """A dataset file is missing or corrupt; the message names the file and how to get it."""


class DivergenceError(PlasticityError, FloatingPointError):
    """Training produced NaN/inf; the message names the step and the tensor."""


def check_choice(name: str, value: str, allowed: list[str] | tuple[str, ...] | set[str]) -> str:
    """Return ``value`` if it is one of ``allowed`` else raise ConfigError naming the argument."""
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; allowed: {', '.join(sorted(allowed))}")
    return value


def check_range(name: str, value: float, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Raise ConfigError naming ``name`` if ``value`` lies outside [low, high] (bounds optional)."""
    ok = True
    if low is not None:
        ok &= value >= low if low_inclusive else value > low
    if high is not None:
        ok &= value <= high if high_inclusive else value < high
    if not ok:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        lb = "[" if low_inclusive and low is not None else "("
        hb = "]" if high_inclusive and high is not None else ")"
        raise ConfigError(f"{name}={value!r} is out of range; allowed: {lb}{lo}, {hi}{hb}")
    return value
