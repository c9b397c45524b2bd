"""Credit-assignment rules for rate networks: each fills ``p.grad`` with its descent direction."""

from .backprop import Backprop
from .base import LearningRule, StepReport, compute_loss, plastic_layers
from .curl import Curl
from .dfa import DirectFeedbackAlignment, OpticalDFA, OpticalProjection
from .disinhibition import Disinhibition
from .ep import EP_RULES, ClassicEP, EquilibriumPropagation, GeneralizedEP, HolomorphicEP, SymmetricEP, homeostasis_loss
from .feedback import FeedbackAlignment, SignSymmetry, fa_weight_angles
from .registry import RULES, make_rule, register_rule

__all__ = [
    "EP_RULES",
    "RULES",
    "Backprop",
    "ClassicEP",
    "Curl",
    "DirectFeedbackAlignment",
    "Disinhibition",
    "EquilibriumPropagation",
    "FeedbackAlignment",
    "GeneralizedEP",
    "HolomorphicEP",
    "LearningRule",
    "OpticalDFA",
    "OpticalProjection",
    "SignSymmetry",
    "StepReport",
    "SymmetricEP",
    "compute_loss",
    "fa_weight_angles",
    "homeostasis_loss",
    "make_rule",
    "plastic_layers",
    "register_rule",
]
