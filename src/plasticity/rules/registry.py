"""Name -> rule table, so configs and the CLI build rules by name: built-ins, installed plug-ins, user registrations.

A leaf module: it imports no rule at import time. Built-in rules are listed as ``"module:attribute"`` strings
and imported on first use, exactly like plug-in rules, which other packages declare as entry points in the
``plasticity.rules`` group (``[project.entry-points."plasticity.rules"] my-rule = "my_pkg:MyRule"``). So the
rule modules (and the spiking ones) never form an import cycle with this table, and a rule installed as a
package works by name in YAML configs, ``plasticity run``, ``compare`` and ``sweep``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from importlib.metadata import entry_points
from typing import Any

from ..errors import ConfigError, check_choice

ENTRY_POINT_GROUP = "plasticity.rules"

BUILTIN: dict[str, str] = {
    "bp": "plasticity.rules.backprop:Backprop",
    "fa": "plasticity.rules.feedback:FeedbackAlignment",
    "brsf": "plasticity.rules.feedback:BatchwiseRandomSignFeedback",
    "frsf": "plasticity.rules.feedback:FixedRandomSignFeedback",
    "sign": "plasticity.rules.feedback:SignSymmetry",
    "dfa": "plasticity.rules.dfa:DirectFeedbackAlignment",
    "dfa-optical": "plasticity.rules.dfa:OpticalDFA",
    "disinhibition": "plasticity.rules.disinhibition:Disinhibition",
    "curl": "plasticity.rules.curl:Curl",
    "ep": "plasticity.rules.ep:ClassicEP",
    "ep-sym": "plasticity.rules.ep:SymmetricEP",
    "hep": "plasticity.rules.ep:HolomorphicEP",
    "gep": "plasticity.rules.ep:GeneralizedEP",
    "surrogate-bptt": "plasticity.spiking.bptt:SurrogateBPTT",
    "sym-stdp": "plasticity.spiking.symstdp:SymmetricSTDP",
    "pspm": "plasticity.spiking.pspm:PSPM",
}

Factory = Callable[..., Any]


def load_target(spec: str) -> Any:
    """Import ``"package.module:attribute"``; a clear error names a target that cannot be loaded."""
    module, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load {spec!r}: {exc}") from None
    return obj


def plugin_specs(group: str) -> dict[str, str]:
    """Entry points of ``group`` declared by installed distributions, as name -> ``"module:attribute"``."""
    return {ep.name: ep.value for ep in entry_points(group=group)}


class Registry(MutableMapping[str, Factory]):
    """Name -> factory mapping over lazily imported built-ins, entry points and explicit registrations.

    Entry points are read on each lookup of an unknown name (cheap), so a package installed while the process
    runs is seen; explicit ``register`` calls win over entry points, which never shadow a built-in.
    """

    def __init__(self, group: str, builtin: dict[str, str], kind: str) -> None:
        self.group, self.kind = group, kind
        self._specs: dict[str, str | Factory] = dict(builtin)
        self._loaded: dict[str, Factory] = {}          # "module:attr" -> imported factory

    def _all_specs(self) -> dict[str, str | Factory]:
        return {**plugin_specs(self.group), **self._specs}

    def register(self, name: str, factory: Factory) -> None:
        self._specs[name] = factory

    def __getitem__(self, name: str) -> Factory:
        spec = self._specs[name] if name in self._specs else plugin_specs(self.group).get(name)
        if spec is None:
            raise KeyError(name)
        if not isinstance(spec, str):
            return spec
        if spec not in self._loaded:
            self._loaded[spec] = load_target(spec)
        return self._loaded[spec]

    def __setitem__(self, name: str, factory: Factory) -> None:
        self.register(name, factory)

    def __delitem__(self, name: str) -> None:
        self._specs.pop(name, None)

    def clear(self) -> None:
        """Forget every built-in and registered name (installed entry points stay visible)."""
        self._specs.clear()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._all_specs()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._all_specs()))

    def __len__(self) -> int:
        return len(self._all_specs())

    def build(self, name: str, **kwargs: Any) -> Any:
        check_choice(self.kind, name, list(self))
        return self[name](**kwargs)


RULES = Registry(ENTRY_POINT_GROUP, BUILTIN, "rule")
"""Every rule name: ``sorted(RULES)`` lists them, ``RULES[name]`` is the factory (imported on first use)."""


def register_rule(name: str, factory: Factory) -> None:
    """Make ``factory`` available as ``make_rule(name)`` in this process (installed packages use entry points)."""
    RULES.register(name, factory)


def make_rule(name: str, **kwargs: Any) -> Any:
    """Build the rule called ``name`` with keyword arguments; unknown names list the allowed ones."""
    return RULES.build(name, **kwargs)


def rule_names() -> list[str]:
    """All rule names: built-ins, installed plug-ins and registrations."""
    return list(RULES)
