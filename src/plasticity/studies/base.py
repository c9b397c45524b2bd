"""Studies: a paper as an executable claim (DESIGN.md, "Studies").

A study module defines ``STUDY = Study(...)`` with the paper, the claim, a config per scale
(``smoke`` seconds in tests, ``small`` minutes on a CPU, ``paper`` the paper's settings on a GPU),
a ``run`` function producing measured metrics and figures, a ``checks`` function declaring
:class:`~plasticity.studies.checks.Check` comparisons whose targets are read from ``paper_values``, and a
``deviations`` list naming each remaining difference from the paper and its reference code.
Nothing expected is hard-coded into a result.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, check_choice
from ..utils import atomic_write_json, resolve_device, seed_everything
from .checks import FAIL, INCONCLUSIVE, PASS, Check, CheckResult
from .schema import validate as validate_config

SCALES = ("smoke", "small", "cpu", "paper")
"""smoke: seconds, for tests; small: minutes on a CPU, our reduced setting; cpu (optional): the paper's own
protocol, shortened to fit a CPU session (each shortening is a stated deviation); paper: the paper's settings."""
LEDGER_SCALES = ("small", "cpu", "paper")
"""The scales the results ledger shows (``cpu`` only for studies that define it)."""


def scale_kind(scale: str) -> str:
    """The scale a named variant belongs to: ``cpu-fashion`` is the ``cpu`` protocol on another dataset."""
    return scale.split("-", 1)[0]


def ledger_scales(study: Study) -> list[str]:
    """The study's scales the ledger shows, each ledger scale followed by its named variants."""
    return [s for kind in LEDGER_SCALES for s in study.scales if scale_kind(s) == kind]


@dataclass
class StudyContext:
    """What a study's ``run`` gets besides its config: where to write, the device, the seed, a logger."""

    out_dir: Path
    device: torch.device
    seed: int
    scale: str
    quiet: bool = False
    figures: list[str] = field(default_factory=list)

    def figure_path(self, name: str) -> Path:
        """Path for a figure file (PNG) inside the output folder; registers it with the result."""
        path = self.out_dir / name
        if name not in self.figures:
            self.figures.append(name)
        return path

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, flush=True)

    def sub_seeds(self, n: int) -> list[int]:
        """The ``n`` seeds of a study's inner replicates: ``seed·n .. seed·n + n − 1``. Disjoint across top-level
        seeds, so a held-out seed never reuses a replicate of a tuned one (``seed + s`` would overlap)."""
        return [self.seed * n + s for s in range(n)]


@dataclass
class StudyResult:
    """Measured metrics, check verdicts and figures of one study run."""

    study: str
    scale: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    checks: list[CheckResult]
    figures: list[str]
    out_dir: str
    seconds: float
    paper: dict[str, Any] = field(default_factory=dict)
    deviations: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    tuned_seeds: list[int] = field(default_factory=list)
    per_seed: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.status == PASS for c in self.checks)

    @property
    def status(self) -> str:
        """PASS when every check passes; INCONCLUSIVE when none fails but a reference missed its floor."""
        return verdict([c.status for c in self.checks])

    @property
    def exit_code(self) -> int:
        """0 on PASS, 1 on FAIL, 3 on INCONCLUSIVE (a reference did not learn)."""
        return {PASS: 0, FAIL: 1, INCONCLUSIVE: 3}[self.status]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        d["status"] = self.status
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyResult:
        d = {k: v for k, v in d.items() if k not in ("passed", "status")}
        d["checks"] = [CheckResult(**c) for c in d["checks"]]
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path) -> StudyResult:
        return cls.from_dict(json.loads(Path(path).read_text()))


def verdict(statuses: list[str]) -> str:
    """FAIL if any check fails; else INCONCLUSIVE if any is inconclusive; else PASS (no checks: FAIL)."""
    if not statuses or FAIL in statuses:
        return FAIL
    return INCONCLUSIVE if INCONCLUSIVE in statuses else PASS


def combine_statuses(statuses: list[str], seed_rate: float = 1.0) -> str:
    """One check's verdict over seeds: PASS when at least ``seed_rate`` of the seeds pass; FAIL when the failing seeds
    alone make that rate unreachable; else INCONCLUSIVE (the inconclusive seeds could still decide it)."""
    n = len(statuses)
    need = math.ceil(seed_rate * n - 1e-9)
    n_pass = statuses.count(PASS)
    if n and n_pass >= need:
        return PASS
    return INCONCLUSIVE if n and n_pass + statuses.count(INCONCLUSIVE) >= need else FAIL


def align_checks(runs: list[list[Any]], name: Callable[[Any], str]) -> list[tuple[str, list[Any]]]:
    """Each check name over several runs (first-seen order) with that check from every run, ``None`` where a run
    lacks it; ``name`` reads a check's name (CheckResult objects or ledger dicts alike)."""
    names = list(dict.fromkeys(name(c) for checks in runs for c in checks))
    return [(n, [next((c for c in checks if name(c) == n), None) for checks in runs]) for n in names]


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` -> [0, 3, 7]; ranges and lists mix (``"0-2,9"``)."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in str(text).split(",") if p.strip()):
            if "-" in part:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                seeds += range(lo, hi + 1)
            else:
                seeds.append(int(part))
    except ValueError:
        raise ConfigError(f"--seeds {text!r} must be integers >= 0 as a list or range, e.g. 0-4 or 0,2,5") from None
    if not seeds or any(x < 0 for x in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} must be distinct integers >= 0, e.g. 0-4 or 0,2,5")
    return seeds


RunFn = Callable[[dict[str, Any], StudyContext], dict[str, Any]]
ChecksFn = Callable[[dict[str, Any], dict[str, Any]], list[Check | CheckResult]]


@dataclass
class Study:
    """A paper's headline result as code. ``scales`` maps smoke/small/paper (and optionally cpu) to a config dict.

    A scale may also be a named variant of one of these, ``KIND-NAME`` (for example ``cpu-fashion``: the cpu
    protocol on Fashion-MNIST), so the ledger can hold a run that differs from its scale by a stated setting."""

    name: str
    title: str
    authors: str
    year: int
    url: str
    claim: str
    scales: dict[str, dict[str, Any]]
    run_fn: RunFn
    checks_fn: ChecksFn
    paper_values: dict[str, Any] = field(default_factory=dict)
    deviations: list[str] = field(default_factory=list)
    tuned_seeds: tuple[int, ...] = (0,)
    # seeds tuned on at a scale (or a kind of scale) where they differ from ``tuned_seeds``: a scale run at the
    # reference's own settings tunes nothing, ``()``
    scale_tuned_seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)
    limits: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def config(self, scale: str = "small", **overrides: Any) -> dict[str, Any]:
        """The config of ``scale`` with ``overrides`` applied and type/range-checked (one line naming the key)."""
        check_choice("scale", scale, tuple(self.scales))
        cfg = dict(self.scales[scale])
        for k, v in overrides.items():
            if k not in cfg:
                raise ConfigError(f"study {self.name!r} has no config key {k!r}; allowed: {', '.join(sorted(cfg))}")
            cfg[k] = v
        return validate_config(self.name, self.scales, cfg, self.limits, keys=set(overrides))

    def tuned_for(self, scale: str) -> tuple[int, ...]:
        """The seeds any setting of ``scale`` was chosen on: its own entry, its kind's, else ``tuned_seeds``."""
        for key in (scale, scale_kind(scale)):
            if key in self.scale_tuned_seeds:
                return tuple(self.scale_tuned_seeds[key])
        return tuple(self.tuned_seeds)

    def evaluate(self, metrics: dict[str, Any], cfg: dict[str, Any]) -> list[CheckResult]:
        """Run the checks function and resolve each declared :class:`Check` against ``paper_values``."""
        out = []
        for c in self.checks_fn(metrics, cfg):
            out.append(c.evaluate(self.paper_values) if isinstance(c, Check) else c)
        return out

    def run(self, scale: str = "small", out_dir: str | Path | None = None, device: str = "cpu", seed: int = 0,
            quiet: bool = False, **overrides: Any) -> StudyResult:
        """Run at ``scale``, compare with the paper, write ``results.json`` (atomically) and figures to ``out_dir``."""
        cfg = self.config(scale, **overrides)
        out = Path(out_dir) if out_dir is not None else Path("reports") / "studies" / self.name / scale
        out.mkdir(parents=True, exist_ok=True)
        ctx = StudyContext(out_dir=out, device=resolve_device(device), seed=int(seed), scale=scale, quiet=quiet)
        seed_everything(seed)
        t0 = time.perf_counter()
        metrics = self.run_fn(cfg, ctx)
        checks = self.evaluate(metrics, cfg)
        result = StudyResult(self.name, scale, cfg, metrics, checks, list(ctx.figures), str(out),
                             time.perf_counter() - t0, paper=self.paper_info(), deviations=list(self.deviations),
                             seeds=[int(seed)], tuned_seeds=list(self.tuned_for(scale)))
        atomic_write_json(out / "results.json", result.to_dict())
        return result

    def paper_info(self) -> dict[str, Any]:
        return {"title": self.title, "authors": self.authors, "year": self.year, "url": self.url,
                "claim": self.claim, "values": self.paper_values}

    def run_seeds(self, seeds: list[int], scale: str = "small", out_dir: str | Path | None = None,
                  device: str = "cpu", quiet: bool = False, on_result: Callable[[StudyResult], None] | None = None,
                  **overrides: Any) -> StudyResult:
        """Run once per seed (each into ``out_dir/seed<k>``) and combine: each check's verdict over seeds.

        A check passes over seeds when at least ``seed_rate`` of the seeds pass it (default: all); the
        combined result lists every seed's value and status in ``per_seed`` and each check's ``per_seed``.
        """
        base = Path(out_dir) if out_dir is not None else Path("reports") / "studies" / self.name / scale
        runs = []
        for sd in seeds:
            r = self.run(scale, out_dir=base / f"seed{sd}", device=device, seed=sd, quiet=quiet, **overrides)
            if on_result is not None:
                on_result(r)
            runs.append(r)
        return combine_seeds(runs, base)


def combine_seeds(runs: list[StudyResult], out: Path) -> StudyResult:
    """One result over several seeds: per check, the pass rate and each seed's value (``seed_rate`` rules)."""
    combined = []
    for name, found in align_checks([r.checks for r in runs], lambda c: c.name):
        per = dict(zip((str(r.seeds[0]) for r in runs), found, strict=True))
        statuses = [c.status if c is not None else FAIL for c in per.values()]
        n_pass = statuses.count(PASS)
        first = next(c for c in per.values() if c is not None)
        need = _seed_rate(first)
        status = combine_statuses(statuses, need)
        combined.append(CheckResult(
            name, f"{n_pass}/{len(runs)} seeds pass", first.paper, status == PASS,
            "; ".join(f"seed {s}: {_short(c)}" for s, c in per.items()), status, first.source,
            per_seed={s: (None if c is None else {"measured": c.measured, "status": c.status}) for s, c in per.items()},
            seed_rate=need))
    first = runs[0]
    res = StudyResult(first.study, first.scale, first.config, {str(r.seeds[0]): r.metrics for r in runs}, combined,
                      [f"seed{first.seeds[0]}/{f}" for f in first.figures], str(out),
                      sum(r.seconds for r in runs), paper=first.paper, deviations=first.deviations,
                      seeds=[r.seeds[0] for r in runs], tuned_seeds=first.tuned_seeds,
                      per_seed={str(r.seeds[0]): {"status": r.status, "seconds": r.seconds} for r in runs})
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", res.to_dict())
    return res


def _seed_rate(c: CheckResult) -> float:
    return float(c.seed_rate or 1.0)


def _short(c: CheckResult | None) -> str:
    if c is None:
        return "missing"
    m = f"{c.measured:.4g}" if isinstance(c.measured, float) else str(c.measured)
    return f"{m} {c.status}"
