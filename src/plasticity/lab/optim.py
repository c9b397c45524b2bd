"""Optimizer (geometry) factory for configs: ``sgd``/``adam`` built in, any ``plasticity.geometry`` by name.

``plasticity.geometry.make_geometry(name, params, **kw)`` is imported lazily, so the lab works with or
without the geometry package; ``register_optimizer`` adds more factories.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..errors import ConfigError

OptimizerFactory = Callable[..., torch.optim.Optimizer]


def _sgd(params: Iterable[Any], lr: float, momentum: float = 0.0, weight_decay: float = 0.0, **kw: Any):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)


def _adam(params: Iterable[Any], lr: float, momentum: float = 0.0, weight_decay: float = 0.0, **kw: Any):
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **kw)


OPTIMIZERS: dict[str, OptimizerFactory] = {"sgd": _sgd, "adam": _adam}


def register_optimizer(name: str, factory: OptimizerFactory) -> None:
    """Make ``factory(params, lr=..., momentum=..., weight_decay=..., **params)`` available by name."""
    OPTIMIZERS[name] = factory


def _geometry_module() -> Any:
    try:
        return importlib.import_module("plasticity.geometry")
    except ImportError:
        return None


def external_geometries() -> list[str]:
    """Names offered by ``plasticity.geometry`` (``GEOMETRIES`` or ``list_geometries()``), if installed."""
    mod = _geometry_module()
    if mod is None:
        return []
    if hasattr(mod, "list_geometries"):
        try:
            return list(mod.list_geometries())
        except Exception:  # a half-written geometry package must not break configs
            return []
    names = getattr(mod, "GEOMETRY_NAMES", None)
    if names is not None:
        return list(names)
    reg = getattr(mod, "GEOMETRIES", None)
    return list(reg) if isinstance(reg, dict) else []


def make_optimizer(name: str, params: Iterable[Any], lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                   **extra: Any) -> torch.optim.Optimizer:
    """Build the optimizer called ``name`` (built-in/registered first, then ``plasticity.geometry``)."""
    if name in OPTIMIZERS:
        try:
            return OPTIMIZERS[name](params, lr=lr, momentum=momentum, weight_decay=weight_decay, **extra)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"geometry {name!r} rejected its parameters: {exc}") from None
    mod = _geometry_module()
    if mod is not None and hasattr(mod, "make_geometry"):
        kw = dict(extra)
        kw["lr"] = lr
        if momentum:
            kw["momentum"] = momentum
        if weight_decay:
            kw["weight_decay"] = weight_decay
        try:
            return mod.make_geometry(name, params, **kw)
        except TypeError as exc:
            raise ConfigError(f"geometry {name!r} rejected its parameters: {exc}") from None
    allowed = sorted(set(OPTIMIZERS) | set(external_geometries()))
    raise ConfigError(f"unknown geometry {name!r}; allowed: {', '.join(allowed)}")
