"""``make_geometry(name, params, **kw)``: build any geometry by name (configs, CLI, the grid test)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..errors import check_choice
from .devices import DeviceSynapses
from .mirror import MirrorDescent
from .polarity import DaleLaw, FixedPolarity

GEOMETRY_NAMES = ("euclidean", "negentropy", "pnorm", "hypentropy", "polarity", "dale", "device")
_INNER_KEYS = ("lr", "momentum", "weight_decay", "potential", "p", "beta")


def make_geometry(name: str, params: Iterable[Any], **kw: Any) -> torch.optim.Optimizer:
    """``euclidean|negentropy|pnorm|hypentropy`` -> ``MirrorDescent``; ``polarity``/``dale`` wrap a
    ``MirrorDescent`` (``potential`` kwarg, default euclidean); ``device`` -> ``DeviceSynapses``."""
    check_choice("geometry", name, GEOMETRY_NAMES)
    if name == "device":
        return DeviceSynapses(params, **kw)
    if name in ("polarity", "dale"):
        inner_kw = {k: kw.pop(k) for k in list(kw) if k in _INNER_KEYS}
        inner = MirrorDescent(params, **inner_kw)
        return FixedPolarity(inner, **kw) if name == "polarity" else DaleLaw(inner, **kw)
    return MirrorDescent(params, potential=name, **kw)
