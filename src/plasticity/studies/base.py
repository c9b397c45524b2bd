"""Studies: a paper as an executable claim (DESIGN.md, "Studies").

A study module defines ``STUDY = Study(...)`` with the paper, the claim, a config per scale
(``smoke`` seconds in tests, ``small`` minutes on a CPU, ``paper`` the paper's settings on a GPU),
a ``run`` function producing measured metrics and figures, and a ``checks`` function comparing the
measured numbers with the paper's. Nothing expected is hard-coded into a result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, check_choice
from ..utils import atomic_write_json, resolve_device, seed_everything

SCALES = ("smoke", "small", "paper")


@dataclass
class CheckResult:
    """One comparison of a measured value with the paper's claim."""

    name: str
    measured: float | str | None
    paper: float | str | None
    passed: bool
    detail: str = ""

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        m = f"{self.measured:.4g}" if isinstance(self.measured, float) else str(self.measured)
        p = f"{self.paper:.4g}" if isinstance(self.paper, float) else str(self.paper)
        return f"{verdict}  {self.name}: measured {m} | paper {p}" + (f"  ({self.detail})" if self.detail else "")


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

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyResult:
        d = {k: v for k, v in d.items() if k != "passed"}
        d["checks"] = [CheckResult(**c) for c in d["checks"]]
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path) -> StudyResult:
        return cls.from_dict(json.loads(Path(path).read_text()))


RunFn = Callable[[dict[str, Any], StudyContext], dict[str, Any]]
ChecksFn = Callable[[dict[str, Any], dict[str, Any]], list[CheckResult]]


@dataclass
class Study:
    """A paper's headline result as code. ``scales`` maps smoke/small/paper to a config dict."""

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

    def config(self, scale: str = "small", **overrides: Any) -> dict[str, Any]:
        """The config of ``scale`` with ``overrides`` applied; unknown keys are errors naming the key."""
        check_choice("scale", scale, tuple(self.scales))
        cfg = dict(self.scales[scale])
        for k, v in overrides.items():
            if k not in cfg:
                raise ConfigError(f"study {self.name!r} has no config key {k!r}; allowed: {', '.join(sorted(cfg))}")
            cfg[k] = v
        return cfg

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
        checks = self.checks_fn(metrics, cfg)
        result = StudyResult(self.name, scale, cfg, metrics, checks, list(ctx.figures), str(out),
                             time.perf_counter() - t0,
                             paper={"title": self.title, "authors": self.authors, "year": self.year, "url": self.url,
                                    "claim": self.claim, "values": self.paper_values})
        atomic_write_json(out / "results.json", result.to_dict())
        return result
