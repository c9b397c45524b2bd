"""Credit-assignment rules for rate networks: each fills ``p.grad`` with its descent direction.

``make_rule(name)`` builds any rule by name, including the spiking rules and rules installed by other packages
(entry-point group ``plasticity.rules``); ``registry`` imports no rule at import time, so there is no cycle.
"""

from .backprop import Backprop
from .base import LearningRule, StepReport, UnsupportedModelError, compute_loss, plastic_layers
from .curl import Curl
from .dfa import DirectFeedbackAlignment, OpticalDFA, OpticalProjection
from .disinhibition import Disinhibition
from .ep import EP_RULES, ClassicEP, EquilibriumPropagation, GeneralizedEP, HolomorphicEP, SymmetricEP, homeostasis_loss
from .feedback import (
    BatchwiseRandomSignFeedback,
    FeedbackAlignment,
    FixedRandomSignFeedback,
    SignSymmetry,
    fa_weight_angles,
)
from .registry import RULES, make_rule, register_rule, rule_names

__all__ = [
    "EP_RULES",
    "RULES",
    "Backprop",
    "BatchwiseRandomSignFeedback",
    "ClassicEP",
    "Curl",
    "DirectFeedbackAlignment",
    "Disinhibition",
    "EquilibriumPropagation",
    "FeedbackAlignment",
    "FixedRandomSignFeedback",
    "GeneralizedEP",
    "HolomorphicEP",
    "LearningRule",
    "OpticalDFA",
    "OpticalProjection",
    "SignSymmetry",
    "StepReport",
    "SymmetricEP",
    "UnsupportedModelError",
    "compute_loss",
    "fa_weight_angles",
    "homeostasis_loss",
    "make_rule",
    "plastic_layers",
    "register_rule",
    "rule_names",
]
