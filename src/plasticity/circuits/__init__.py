"""Circuit mechanisms: dis-inhibitory sign control, active dendrites (SDR theory), gain control, bilateral control."""

from .disinhibition import (
    ClosedLoopNetwork,
    EIMicrocircuit,
    EISteadyState,
    LeakyPI,
    Relu,
    SoftReLU,
    ei_mlp,
    single_synapse_curve,
)

__all__ = ["ClosedLoopNetwork", "EIMicrocircuit", "EISteadyState", "LeakyPI", "Relu", "SoftReLU", "ei_mlp",
           "single_synapse_curve"]
