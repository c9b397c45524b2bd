"""Declarative study checks: a measured value, a comparison, a target read from ``paper_values``, a guard.

A study's checks function returns :class:`Check` declarations; :meth:`Study.evaluate` resolves each target
(``paper("key")`` reads the study's ``paper_values``, so every paper number is written once), applies the
reference guard (a comparative check first requires that its reference learned, else INCONCLUSIVE) and
returns :class:`CheckResult` verdicts.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
STATUSES = (PASS, FAIL, INCONCLUSIVE)
OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt,
                                                 "<=": operator.le}
NOISE_Z = 2.0
"""Our criterion: a measured value closer to its threshold than ``NOISE_Z`` standard errors is inside the noise."""


def accuracy_se(p: float, n: int) -> float:
    """Binomial standard error of an accuracy (or error rate) ``p`` scored on ``n`` examples."""
    if n <= 0:
        raise ConfigError(f"accuracy_se needs a positive evaluation size, got n={n}")
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def accuracy_diff_se(p1: float, p2: float, n1: int, n2: int | None = None) -> float:
    """Binomial standard error of ``p1 - p2``, two accuracies scored on ``n1`` and ``n2`` (default ``n1``) examples.

    Evaluation noise only, and unpaired: two models scored on the same examples make correlated errors, so this
    over-states the noise of their difference (conservative). Training noise between seeds is what ``--seeds``
    measures.
    """
    n2 = n1 if n2 is None else n2
    if n1 <= 0 or n2 <= 0:
        raise ConfigError(f"accuracy_diff_se needs positive evaluation sizes, got n1={n1}, n2={n2}")
    return math.sqrt(max(p1 * (1 - p1), 0.0) / n1 + max(p2 * (1 - p2), 0.0) / n2)


def paired_diff_se(correct_a: Any, correct_b: Any) -> float:
    """Standard error of ``mean(a) - mean(b)`` for two models scored on the *same* examples (paired, McNemar-like).

    ``correct_a``/``correct_b``: per-example correctness (0/1 or bool), shape ``[n]`` or ``[replicates, n]``; replicates
    are averaged per example first, so this is the evaluation noise of a difference of replicate means. It is the
    s.d. of the per-example differences over ``sqrt(n)``: models that err on the same examples have a far smaller
    s.e. than ``accuracy_diff_se`` assumes.
    """
    a = np.asarray(_to_numpy(correct_a), dtype=float)
    b = np.asarray(_to_numpy(correct_b), dtype=float)
    if a.ndim not in (1, 2) or b.ndim not in (1, 2) or a.shape[-1] != b.shape[-1] or a.shape[-1] < 2:
        raise ConfigError(f"paired_diff_se needs per-example results of the same length (>= 2), got shapes "
                          f"{np.shape(correct_a)} and {np.shape(correct_b)}")
    a, b = a.reshape(-1, a.shape[-1]).mean(0), b.reshape(-1, b.shape[-1]).mean(0)
    return float(np.std(a - b, ddof=1) / math.sqrt(a.size))


def paired_se_table(correct: Mapping[str, Any], pairs: Any) -> dict[str, dict[str, float]]:
    """``{a: {b: paired_diff_se(correct[a], correct[b])}}`` for each ``(a, b)`` in ``pairs`` whose results exist: the
    form studies store in their metrics, so their checks can read ``table[a][b]``."""
    out: dict[str, dict[str, float]] = {}
    for a, b in pairs:
        if a in correct and b in correct:
            out.setdefault(a, {})[b] = paired_diff_se(correct[a], correct[b])
    return out


def stored_diff_se(table: Mapping[str, Any], a: str, b: str, p_a: float, p_b: float, n: int) -> float:
    """S.e. of accuracy ``a - b``: the paired one from a :func:`paired_se_table` the run stored (``table[a][b]``),
    else, for records made before runs stored it, the conservative unpaired :func:`accuracy_diff_se` of ``p_a`` and
    ``p_b`` on ``n`` examples."""
    stored = table.get(a, {}).get(b)
    return float(stored) if stored is not None else accuracy_diff_se(p_a, p_b, n)


def replicate_diff_se(accs_a: Any, accs_b: Any, eval_se: float = 0.0, paired: bool = True) -> float:
    """S.e. of ``mean(accs_a) - mean(accs_b)``, two means over trained replicates: the training noise plus the
    evaluation noise ``eval_se`` of the test set (e.g. :func:`paired_diff_se`), the two sources independent.

    ``paired``: replicate k of both sides shares its seed (init, batch order), so the training noise is the variance
    of the per-replicate differences over their count; else each side's variance over its count. One replicate:
    ``eval_se`` alone.
    """
    a = np.asarray(accs_a, dtype=float).ravel()
    b = np.asarray(accs_b, dtype=float).ravel()
    out = eval_se ** 2
    if paired and a.size == b.size and a.size > 1:
        out += float(np.var(a - b, ddof=1)) / a.size
    elif not paired:
        out += sum(float(np.var(x, ddof=1)) / x.size for x in (a, b) if x.size > 1)
    elif a.size != b.size:
        raise ConfigError(f"replicate_diff_se(paired=True) needs as many replicates on both sides, got {a.size} "
                          f"and {b.size}")
    return math.sqrt(out)


def _to_numpy(x: Any) -> Any:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


class PaperValue:
    """A lazy reference into a study's ``paper_values`` (optionally scaled or combined): ``paper("k") * 100``."""

    def __init__(self, fn: Callable[[Mapping[str, Any]], Any], label: str) -> None:
        self._fn, self.label = fn, label

    def resolve(self, values: Mapping[str, Any]) -> Any:
        return self._fn(values)

    def _bin(self, other: Any, op: Callable[[Any, Any], Any], sym: str, swap: bool = False) -> PaperValue:
        o_fn = other.resolve if isinstance(other, PaperValue) else (lambda _v: other)
        o_lab = other.label if isinstance(other, PaperValue) else repr(other)
        if swap:
            return PaperValue(lambda v: op(o_fn(v), self._fn(v)), f"{o_lab} {sym} {self.label}")
        return PaperValue(lambda v: op(self._fn(v), o_fn(v)), f"{self.label} {sym} {o_lab}")

    def __add__(self, o: Any) -> PaperValue:
        return self._bin(o, operator.add, "+")

    def __sub__(self, o: Any) -> PaperValue:
        return self._bin(o, operator.sub, "-")

    def __rsub__(self, o: Any) -> PaperValue:
        return self._bin(o, operator.sub, "-", swap=True)

    def __mul__(self, o: Any) -> PaperValue:
        return self._bin(o, operator.mul, "*")

    __rmul__ = __mul__

    def __neg__(self) -> PaperValue:
        return PaperValue(lambda v: -self._fn(v), f"-{self.label}")

    def __truediv__(self, o: Any) -> PaperValue:
        return self._bin(o, operator.truediv, "/")

    def __repr__(self) -> str:
        return f"paper({self.label})"


def paper(key: str) -> PaperValue:
    """The paper's number (or claim) stored under ``key`` in the study's ``paper_values``."""

    def get(values: Mapping[str, Any]) -> Any:
        if key not in values:
            raise ConfigError(f"check refers to paper value {key!r}, which paper_values does not define; "
                              f"defined: {', '.join(sorted(values)) or '(none)'}")
        return values[key]

    return PaperValue(get, key)


@dataclass(frozen=True)
class Check:
    """One declared comparison: ``value op target`` (``~`` means ``|value - target| <= tol``).

    ``target`` is ``paper(KEY)`` (a paper number or claim) or a plain number that is our criterion for a
    qualitative claim (e.g. 0 for "A beats B"); ``tol`` loosens the comparison by that much. ``op="true"``
    checks a boolean value against ``paper(KEY)`` being true. A comparative check names its ``reference``
    value and the ``floor`` it must reach (e.g. BP accuracy ≥ 5× chance); below it the verdict is
    INCONCLUSIVE. ``guards`` adds further (name, value, floor) premises of the same kind, e.g. "the source task
    transfers at all" beside "the baseline learned". ``seed_rate`` is the fraction of seeds that must pass when a
    study runs over several seeds. ``se`` is the measurement's standard error (e.g. :func:`accuracy_diff_se`, in
    the value's units): a value within ``z`` standard errors of its threshold (``target`` moved by ``tol``) is
    INCONCLUSIVE, because one run cannot tell which side of the threshold it is on.
    """

    name: str
    value: float | bool | None
    op: str
    target: float | PaperValue = 0.0
    tol: float = 0.0
    reference: float | None = None
    floor: float | None = None
    reference_name: str = "reference"
    detail: str = ""
    seed_rate: float = 1.0
    guards: tuple[tuple[str, float, float], ...] = ()
    se: float | None = None
    z: float = NOISE_Z

    def __post_init__(self) -> None:
        if self.op not in (*OPS, "~", "true"):
            raise ConfigError(f"check {self.name!r}: op {self.op!r} unknown; allowed: >, >=, <, <=, ~, true")
        if (self.reference is None) != (self.floor is None):
            raise ConfigError(f"check {self.name!r}: reference and floor go together (both or neither)")
        if not 0.0 < self.seed_rate <= 1.0:
            raise ConfigError(f"check {self.name!r}: seed_rate={self.seed_rate} out of range; allowed: (0, 1]")
        if self.se is not None and (self.op == "true" or not _finite(self.se) or self.se < 0):
            raise ConfigError(f"check {self.name!r}: se={self.se} not allowed; se is a finite number >= 0, for "
                              "ops >, >=, <, <=, ~")
        if not (_finite(self.z) and self.z > 0):
            raise ConfigError(f"check {self.name!r}: z={self.z} out of range; allowed: > 0")

    def evaluate(self, paper_values: Mapping[str, Any]) -> CheckResult:
        """Resolve the target, apply the guard and compare."""
        target = self.target.resolve(paper_values) if isinstance(self.target, PaperValue) else self.target
        label = self.target.label if isinstance(self.target, PaperValue) else "criterion"
        want = _describe(self.op, target, self.tol)
        if self.se is not None:
            want = f"{want}, beyond {self.z:g} s.e. ({_num(float(self.z * self.se))})"
        detail = self.detail
        guards = ([(self.reference_name, self.reference, self.floor)] if self.reference is not None else [])
        guards += list(self.guards)
        for name, ref, floor in guards:
            guard = f"{name} {_num(ref)} (floor {_num(floor)})"
            detail = f"{detail}; {guard}" if detail else guard
        for name, ref, floor in guards:
            if not (_finite(ref) and ref >= floor):
                return CheckResult(self.name, _val(self.value), want, False, detail, INCONCLUSIVE, label,
                                   f"{name} did not reach its floor: the comparison says nothing",
                                   seed_rate=self.seed_rate)
        if self.value is None or (not isinstance(self.value, bool) and not _finite(self.value)):
            return CheckResult(self.name, _val(self.value), want, False, detail, FAIL, label, "no finite measurement",
                               seed_rate=self.seed_rate)
        if self.op == "true":
            ok = bool(self.value) == (bool(target) if isinstance(self.target, PaperValue) else True)
            return CheckResult(self.name, _val(self.value), want, ok, detail, PASS if ok else FAIL, label,
                               seed_rate=self.seed_rate)
        margin = _margin(self.op, float(self.value), float(target), self.tol)
        if self.se is not None and abs(margin) < self.z * self.se:
            return CheckResult(self.name, _val(self.value), want, False, detail, INCONCLUSIVE, label,
                               f"inside the noise: {_num(abs(margin))} from the threshold, under {self.z:g} s.e. "
                               f"= {_num(float(self.z * self.se))}", seed_rate=self.seed_rate)
        if self.op == "~":
            ok = abs(float(self.value) - float(target)) <= self.tol
        elif self.op in (">", ">="):
            ok = OPS[self.op](float(self.value), float(target) - self.tol)
        else:
            ok = OPS[self.op](float(self.value), float(target) + self.tol)
        return CheckResult(self.name, _val(self.value), want, ok, detail, PASS if ok else FAIL, label,
                           seed_rate=self.seed_rate)


def _margin(op: str, value: float, target: float, tol: float) -> float:
    """Signed distance of ``value`` from the check's threshold, positive on the passing side."""
    if op == "~":
        return tol - abs(value - target)
    if op in (">", ">="):
        return value - (target - tol)
    return (target + tol) - value


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _val(x: Any) -> float | str | None:
    if isinstance(x, bool) or x is None:
        return x if x is None else str(x)
    return float(x) if isinstance(x, int | float) else str(x)


def _describe(op: str, target: Any, tol: float) -> str:
    if op == "true":
        return "true" if not isinstance(target, bool) else f"{target}"
    if op == "~":
        return f"{_num(target)} ± {_num(tol)}"
    t = _num(target)
    if tol:
        t = f"{t} {'-' if op in ('>', '>=') else '+'} {_num(tol)}"
    return f"{op} {t}"


@dataclass
class CheckResult:
    """A check's verdict: measured value, what was wanted (``paper``), status PASS / FAIL / INCONCLUSIVE."""

    name: str
    measured: float | str | None
    paper: float | str | None
    passed: bool
    detail: str = ""
    status: str = ""
    source: str = ""
    note: str = ""
    per_seed: dict[str, Any] = field(default_factory=dict)
    seed_rate: float = 1.0

    def __post_init__(self) -> None:
        if not self.status:
            self.status = PASS if self.passed else FAIL

    def line(self) -> str:
        m = f"{self.measured:.4g}" if isinstance(self.measured, float) else str(self.measured)
        src = f" [{self.source}]" if self.source and self.source != "criterion" else ""
        extra = "; ".join(x for x in (self.detail, self.note) if x)
        return f"{self.status:<12s} {self.name}: measured {m} | wanted {self.paper}{src}" + (
            f"  ({extra})" if extra else "")
