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
from .fourier import (
    dominant_frequency,
    fraction_concentrated,
    frequency_energy,
    neuron_fourier,
    phase_at,
    wrap_angle,
)
from .symmetries import (
    FunctionalDimension,
    dimension_bound,
    functional_dimension,
    has_hidden_symmetries,
    numerical_rank,
    parameter_jacobian,
)
from .weights import distance_to_normal, dual_change, lognormal_vs_normal, weight_histogram

__all__ = [
    "FunctionalDimension",
    "angle_between",
    "bptt_gradients",
    "dimension_bound",
    "distance_to_normal",
    "dominant_frequency",
    "dual_change",
    "ep_gradient_check",
    "fraction_concentrated",
    "frequency_energy",
    "functional_dimension",
    "grads_of",
    "has_hidden_symmetries",
    "jacobian_asymmetry",
    "jacobian_matrix",
    "layer_cosines",
    "lognormal_vs_normal",
    "neuron_fourier",
    "numerical_rank",
    "parameter_jacobian",
    "phase_at",
    "rule_gradients",
    "update_alignment",
    "weight_histogram",
    "wrap_angle",
]
