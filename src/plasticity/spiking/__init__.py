"""Spiking substrate (LIF neurons and layers, encoders, surrogate spikes), spiking learning rules
(surrogate-gradient BPTT, supervised symmetric STDP, PSPM) and spike-train metrics."""

from .bptt import SurrogateBPTT
from .encoders import ENCODERS, encode, latency_encode, poisson_encode
from .layers import LEARNABLE, LIFCell, LIFLayer, LIReadout, RecurrentLIFLayer, SpikingMLP, run_lif, state_at
from .metrics import (
    avalanches,
    coincidence_factor,
    cv_isi,
    firing_rates,
    isi,
    van_rossum_distance,
    victor_purpura_distance,
)
from .neurons import (
    RESETS,
    LIFCoefficients,
    LIFParameters,
    LIFState,
    check_lif_parameters,
    first_spike_time,
    li_step,
    lif_coefficients,
    lif_initial_state,
    lif_step,
)
from .ops import SpikingEncoder, SpikingMatmul, SpikingSiLU, SpikingSoftmax, SpikingTransformerBlock
from .pspm import PSPM, run_recurrent
from .surrogate import SURROGATES, spike_fn
from .symstdp import SymmetricSTDP, SymSTDPNet

__all__ = [
    "ENCODERS",
    "LEARNABLE",
    "PSPM",
    "RESETS",
    "SURROGATES",
    "LIFCell",
    "LIFCoefficients",
    "LIFLayer",
    "LIFParameters",
    "LIFState",
    "LIReadout",
    "RecurrentLIFLayer",
    "SpikingEncoder",
    "SpikingMLP",
    "SpikingMatmul",
    "SpikingSiLU",
    "SpikingSoftmax",
    "SpikingTransformerBlock",
    "SurrogateBPTT",
    "SymSTDPNet",
    "SymmetricSTDP",
    "avalanches",
    "check_lif_parameters",
    "coincidence_factor",
    "cv_isi",
    "encode",
    "firing_rates",
    "first_spike_time",
    "isi",
    "latency_encode",
    "li_step",
    "lif_coefficients",
    "lif_initial_state",
    "lif_step",
    "poisson_encode",
    "run_lif",
    "run_recurrent",
    "spike_fn",
    "state_at",
    "van_rossum_distance",
    "victor_purpura_distance",
]
