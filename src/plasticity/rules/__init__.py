"""Credit-assignment rules for rate networks: each fills ``p.grad`` with its descent direction."""

from .backprop import Backprop
from .base import LearningRule, StepReport, compute_loss, plastic_layers
from .curl import Curl
from .dfa import DirectFeedbackAlignment, OpticalDFA, OpticalProjection
from .disinhibition import Disinhibition
from .feedback import FeedbackAlignment, SignSymmetry, fa_weight_angles
from .registry import RULES, make_rule, register_rule

__all__ = [
    "RULES",
    "Backprop",
    "Curl",
    "DirectFeedbackAlignment",
    "Disinhibition",
    "FeedbackAlignment",
    "LearningRule",
    "OpticalDFA",
    "OpticalProjection",
    "SignSymmetry",
    "StepReport",
    "compute_loss",
    "fa_weight_angles",
    "make_rule",
    "plastic_layers",
    "register_rule",
]
