"""Geometries of plasticity: torch.optim optimizers that turn any rule's ``.grad`` into a weight change.

Mirror descent with potentials (Pogodin et al. 2024), fixed polarity and Dale's law (Wang et al. 2023),
conductance-pair synapse devices (Lim et al. 2017). ``make_geometry(name, params, **kw)`` builds any of them.
"""

from .devices import DeviceSynapses
from .factory import GEOMETRY_NAMES, make_geometry
from .mirror import MirrorDescent
from .polarity import DaleLaw, FixedPolarity, dale_pattern, polarity_pattern
from .potentials import POTENTIALS, Euclidean, HypEntropy, NegEntropy, PNorm, Potential, make_potential

__all__ = [
    "GEOMETRY_NAMES",
    "POTENTIALS",
    "DaleLaw",
    "DeviceSynapses",
    "Euclidean",
    "FixedPolarity",
    "HypEntropy",
    "MirrorDescent",
    "NegEntropy",
    "PNorm",
    "Potential",
    "dale_pattern",
    "make_geometry",
    "make_potential",
    "polarity_pattern",
]
