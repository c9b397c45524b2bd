"""Run configs: pydantic models (model, rule, geometry, data, training, seed, device) from YAML + ``--set a.b=c``.

Every invalid input (malformed YAML, unknown key, wrong type, out-of-range value, unknown rule/optimizer)
becomes one ``ConfigError`` line that names the key, the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def known_rules() -> list[str]:
    from ..rules.registry import RULES

    return sorted(RULES)


def known_geometries() -> list[str]:
    """Built-in and registered optimizers plus every ``plasticity.geometry`` name."""
    from .optim import known_optimizers

    return known_optimizers()


def known_datasets() -> list[str]:
    from ..data.registry import DATASETS

    return sorted(DATASETS)


def _one_of(value: str, allowed: list[str], what: str) -> str:
    """Field-validator body: ``value`` if it is in ``allowed``, else a ValueError listing them."""
    if value not in allowed:
        raise ValueError(f"unknown {what}; allowed: {', '.join(allowed)}")
    return value


class ModelConfig(_Section):
    kind: Literal["mlp", "conv"] = "mlp"
    hidden: list[int] = Field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    bias: bool = True

    @field_validator("hidden")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(h < 1 for h in v):
            raise ValueError("every hidden width must be >= 1")
        return v


class RuleConfig(_Section):
    name: str = "bp"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, known_rules(), "rule")


class GeometryConfig(_Section):
    name: str = "sgd"
    lr: float = Field(0.02, gt=0, le=1e3)
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, known_geometries(), "geometry")


class DataConfig(_Section):
    name: str = "digits"
    data_dir: str | None = None
    n_train: int | None = Field(None, ge=1)
    n_test: int | None = Field(None, ge=1)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _one_of(v, known_datasets(), "dataset")


class TrainingConfig(_Section):
    epochs: int = Field(10, ge=1, le=100_000)
    batch_size: int = Field(32, ge=1)
    schedule: Literal["none", "cosine"] = "none"
    checkpoint_every: int = Field(200, ge=0, description="steps between mid-epoch checkpoints (0: epoch ends only)")
    keep_checkpoints: int = Field(3, ge=2, le=100)
    checkpoint_overhead: float = Field(0.02, gt=0, le=1, description="most of the wall time checkpoints may take; "
                                       "a due one is skipped beyond it (the last epoch's never); 1: write all")
    eval_train: bool = False
    check_divergence: bool = True
    divergence_factor: float | None = Field(1000.0, gt=1, description="a loss above this multiple of the first "
                                            "step's loss marks the run diverged (None: only NaN/inf do)")
    data_parallel: bool = False


class RunConfig(_Section):
    """A whole run. ``name`` is a label; ``seed`` drives init, feedback matrices and batch order."""

    name: str = "run"
    seed: int = Field(0, ge=0, lt=2**31)
    device: str = "cpu"
    model: ModelConfig = Field(default_factory=ModelConfig)
    rule: RuleConfig = Field(default_factory=RuleConfig)
    geometry: GeometryConfig = Field(default_factory=GeometryConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """Stable short hash of the config (identifies a trial across sweep re-runs)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    cur: Any = model
    for part in loc[:-1]:
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            return []
        cur = field.annotation
    return sorted(getattr(cur, "model_fields", {}))


def _describe(err: dict[str, Any], model: type[BaseModel]) -> str:
    loc = tuple(err.get("loc", ()))
    key = ".".join(str(p) for p in loc) or "(config)"
    value = err.get("input")
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"unknown key {key!r}; allowed: {', '.join(_allowed_keys(model, loc)) or '(none)'}"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        bounds = _bounds(model, loc)
        msg = f"{msg}; allowed: {bounds}" if bounds else msg
    elif kind == "literal_error" and "expected" in ctx:
        msg = f"allowed: {ctx['expected']}"
    return f"{key}={value!r} is invalid: {msg}"


def _bounds(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    cur: Any = model
    field = None
    for part in loc:
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            return ""
        cur = field.annotation
    lo, hi, lo_inc, hi_inc = None, None, True, True
    for m in field.metadata if field else []:
        for attr, inc in (("gt", False), ("ge", True)):
            if getattr(m, attr, None) is not None:
                lo, lo_inc = getattr(m, attr), inc
        for attr, inc in (("lt", False), ("le", True)):
            if getattr(m, attr, None) is not None:
                hi, hi_inc = getattr(m, attr), inc
    if lo is None and hi is None:
        return ""
    return f"{'[' if lo_inc and lo is not None else '('}{'-inf' if lo is None else lo}, " \
           f"{'inf' if hi is None else hi}{']' if hi_inc and hi is not None else ')'}"


def validate_config(data: dict[str, Any]) -> RunConfig:
    """Build a ``RunConfig`` from a plain dict; errors become one ``ConfigError`` line naming each bad key."""
    if not isinstance(data, dict):
        raise ConfigError(f"config must be a mapping of sections, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        parts = [_describe(e, RunConfig) for e in exc.errors()]
        raise ConfigError("config: " + "; ".join(parts)) from None


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` and ``5.0e7`` as floats (YAML 1.2), not strings as YAML 1.1 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_yaml(text: str) -> Any:
    """Parse YAML text with ``_Loader`` (exponent floats are numbers)."""
    return yaml.load(text, Loader=_Loader)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``'a.b=c'`` -> (['a', 'b'], value) with the value parsed as YAML (numbers, lists, booleans)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r} is invalid; expected KEY=VALUE, e.g. geometry.lr=0.05")
    key, raw = item.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"--set {item!r} has an empty key; expected KEY=VALUE")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key overrides (a ``{'a.b': v}`` mapping or ``['a.b=v']`` list)."""
    out = json.loads(json.dumps(data))
    items = [parse_override(s) for s in overrides] if isinstance(overrides, list) else \
        [([p for p in str(k).split(".") if p], v) for k, v in overrides.items()]
    for path, value in items:
        cur = out
        for part in path[:-1]:
            nxt = cur.get(part)
            if nxt is None:
                nxt = cur[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"cannot set {'.'.join(path)!r}: {part!r} is a value, not a section")
            cur = nxt
        cur[path[-1]] = value
    return out


MAX_NODES = 100_000  # values in one config after YAML aliases are expanded (an alias bomb stops here)
MAX_BYTES = 1 << 20


def _check_size(data: Any, where: str) -> None:
    """Walk ``data`` counting values (aliases count each time they are used); stop past ``MAX_NODES``."""
    count, stack = 0, [data]
    while stack:
        x = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{where} expands to more than {MAX_NODES:,} values (YAML aliases?); "
                              "write the config out plainly")
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file into a dict; a missing, empty, oversized or malformed file is a one-line ``ConfigError``."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config file {str(p)!r} is a folder; pass a YAML file")
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    if p.stat().st_size > MAX_BYTES:
        raise ConfigError(f"config file {str(p)!r} is larger than {MAX_BYTES >> 20} MiB; pass a run config")
    try:
        data = load_yaml(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if data is None:
        raise ConfigError(f"config file {str(p)!r} is empty; write at least one section, e.g. 'rule: {{name: bp}}'")
    _check_size(data, f"config file {str(p)!r}")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of sections, got {type(data).__name__}")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> RunConfig:
    """Load ``path`` (YAML; None: all defaults), apply ``--set`` overrides, validate."""
    data = read_yaml(path) if path is not None else {}
    if overrides:
        data = apply_overrides(data, overrides)
    return validate_config(data)
