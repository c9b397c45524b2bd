"""Circuit mechanisms: dis-inhibitory sign control, active dendrites (SDR theory), gain control, bilateral control."""

from .disinhibition import EIMicrocircuit, Relu, SoftReLU, single_synapse_curve

__all__ = ["EIMicrocircuit", "Relu", "SoftReLU", "single_synapse_curve"]
