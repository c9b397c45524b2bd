"""Name -> rule factory, so configs and the CLI can build rules by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import check_choice
from ..spiking.bptt import SurrogateBPTT
from ..spiking.pspm import PSPM
from ..spiking.symstdp import SymmetricSTDP
from .backprop import Backprop
from .base import LearningRule
from .curl import Curl
from .dfa import DirectFeedbackAlignment, OpticalDFA
from .disinhibition import Disinhibition
from .ep import EP_RULES
from .feedback import FeedbackAlignment, SignSymmetry

RULES: dict[str, Callable[..., LearningRule]] = {
    "bp": Backprop,
    "fa": FeedbackAlignment,
    "sign": SignSymmetry,
    "dfa": DirectFeedbackAlignment,
    "dfa-optical": OpticalDFA,
    "disinhibition": Disinhibition,
    "curl": Curl,
    **EP_RULES,
    "surrogate-bptt": SurrogateBPTT,
    "sym-stdp": SymmetricSTDP,
    "pspm": PSPM,
}


def register_rule(name: str, factory: Callable[..., LearningRule]) -> None:
    """Make ``factory`` available as ``make_rule(name)`` (used by later modules and by users)."""
    RULES[name] = factory


def make_rule(name: str, **kwargs: Any) -> LearningRule:
    """Build the rule called ``name`` with keyword arguments; unknown names list the allowed ones."""
    return RULES[check_choice("rule", name, RULES)](**kwargs)
