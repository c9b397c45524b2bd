"""``make_geometry(name, params, **kw)``: build any geometry by name (configs, CLI, the grid test).

Other packages add geometries through the entry-point group ``plasticity.geometries`` (an entry point names a
factory ``factory(params, **kw) -> torch.optim.Optimizer``); ``GEOMETRY_NAMES`` lists built-ins and plug-ins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import torch

from ..errors import check_choice
from ..rules.registry import load_target, plugin_specs
from .devices import DeviceSynapses
from .mirror import MirrorDescent
from .polarity import DaleLaw, FixedPolarity

ENTRY_POINT_GROUP = "plasticity.geometries"
BUILTIN_GEOMETRIES = ("euclidean", "negentropy", "pnorm", "hypentropy", "polarity", "dale", "device")
_INNER_KEYS = ("lr", "momentum", "weight_decay", "potential", "p", "beta", "foreach", "compile")


class _GeometryNames(Sequence[str]):
    """Built-in geometry names followed by installed plug-ins (read when used, so new installs are seen)."""

    def _names(self) -> tuple[str, ...]:
        return BUILTIN_GEOMETRIES + tuple(n for n in sorted(plugin_specs(ENTRY_POINT_GROUP))
                                          if n not in BUILTIN_GEOMETRIES)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __repr__(self) -> str:
        return repr(self._names())


GEOMETRY_NAMES: Sequence[str] = _GeometryNames()


def make_geometry(name: str, params: Iterable[Any], **kw: Any) -> torch.optim.Optimizer:
    """``euclidean|negentropy|pnorm|hypentropy`` -> ``MirrorDescent``; ``polarity``/``dale`` wrap a
    ``MirrorDescent`` (``potential`` kwarg, default euclidean); ``device`` -> ``DeviceSynapses``; other names ->
    the factory an installed package declares in the ``plasticity.geometries`` entry-point group."""
    check_choice("geometry", name, tuple(GEOMETRY_NAMES))
    if name == "device":
        return DeviceSynapses(params, **kw)
    if name in ("polarity", "dale"):
        inner_kw = {k: kw.pop(k) for k in list(kw) if k in _INNER_KEYS}
        inner = MirrorDescent(params, **inner_kw)
        return FixedPolarity(inner, **kw) if name == "polarity" else DaleLaw(inner, **kw)
    if name not in BUILTIN_GEOMETRIES:
        return load_target(plugin_specs(ENTRY_POINT_GROUP)[name])(params, **kw)
    return MirrorDescent(params, potential=name, **kw)
