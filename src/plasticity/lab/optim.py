"""Optimizer (geometry) factory for configs: ``sgd``/``adam`` built in, any ``plasticity.geometry`` by name.

``register_optimizer`` adds more factories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..errors import ConfigError
from ..geometry import GEOMETRY_NAMES, make_geometry

OptimizerFactory = Callable[..., torch.optim.Optimizer]


def _sgd(params: Iterable[Any], lr: float, momentum: float = 0.0, weight_decay: float = 0.0, **kw: Any):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)


def _adam(params: Iterable[Any], lr: float, momentum: float = 0.0, weight_decay: float = 0.0, **kw: Any):
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **kw)


OPTIMIZERS: dict[str, OptimizerFactory] = {"sgd": _sgd, "adam": _adam}


def register_optimizer(name: str, factory: OptimizerFactory) -> None:
    """Make ``factory(params, lr=..., momentum=..., weight_decay=..., **params)`` available by name."""
    OPTIMIZERS[name] = factory


def known_optimizers() -> list[str]:
    """Every name ``make_optimizer`` accepts: built-in/registered factories and ``plasticity.geometry``."""
    return sorted(set(OPTIMIZERS) | set(GEOMETRY_NAMES))


def make_optimizer(name: str, params: Iterable[Any], lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                   **extra: Any) -> torch.optim.Optimizer:
    """Build the optimizer called ``name`` (built-in/registered first, then ``plasticity.geometry``)."""
    if name in OPTIMIZERS:
        try:
            return OPTIMIZERS[name](params, lr=lr, momentum=momentum, weight_decay=weight_decay, **extra)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"geometry {name!r} rejected its parameters: {exc}") from None
    if name in GEOMETRY_NAMES:
        kw = dict(extra)
        kw["lr"] = lr
        if momentum:
            kw["momentum"] = momentum
        if weight_decay:
            kw["weight_decay"] = weight_decay
        try:
            return make_geometry(name, params, **kw)
        except TypeError as exc:
            raise ConfigError(f"geometry {name!r} rejected its parameters: {exc}") from None
    raise ConfigError(f"unknown geometry {name!r}; allowed: {', '.join(known_optimizers())}")
