"""Fingerprints: pure functions from tensors/models to numbers."""

from .alignment import angle_between, grads_of, update_alignment
from .weights import distance_to_normal, dual_change, lognormal_vs_normal, weight_histogram

__all__ = [
    "angle_between",
    "distance_to_normal",
    "dual_change",
    "grads_of",
    "lognormal_vs_normal",
    "update_alignment",
    "weight_histogram",
]
