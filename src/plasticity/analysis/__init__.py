"""Fingerprints: pure functions from tensors/models to numbers."""

from .alignment import angle_between, grads_of, update_alignment
from .ep_gradcheck import (
    bptt_gradients,
    ep_gradient_check,
    jacobian_asymmetry,
    jacobian_matrix,
    layer_cosines,
    rule_gradients,
)
from .weights import distance_to_normal, dual_change, lognormal_vs_normal, weight_histogram

__all__ = [
    "angle_between",
    "bptt_gradients",
    "distance_to_normal",
    "dual_change",
    "ep_gradient_check",
    "grads_of",
    "jacobian_asymmetry",
    "jacobian_matrix",
    "layer_cosines",
    "lognormal_vs_normal",
    "rule_gradients",
    "update_alignment",
    "weight_histogram",
]
