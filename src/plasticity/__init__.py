"""plasticity: learning rules beyond Euclidean backpropagation.

Three orthogonal axes (see DESIGN.md): a *substrate* (``plasticity.models``), a credit-assignment
*rule* (``plasticity.rules``) that fills ``p.grad``, and a *geometry* (``plasticity.geometry``,
torch optimizers) that turns it into a weight change. ``Trainer`` runs the loop.
"""

from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DataError, DivergenceError, PlasticityError

# Public names -> the submodule that defines them. Imported on first use (PEP 562), so ``import plasticity``
# and the CLI's start-up (``plasticity --help``) stay light: torch, scipy and scikit-learn load only when needed.
_LAZY: dict[str, str] = {
    **{m: "" for m in ("analysis", "circuits", "continual", "data", "geometry", "models", "rules", "spiking")},
    **dict.fromkeys(("angle_between", "ep_gradient_check", "functional_dimension", "update_alignment"), "analysis"),
    "EIMicrocircuit": "circuits",
    **dict.fromkeys(("HLOP", "TaskSequence", "run_continual"), "continual"),
    **dict.fromkeys(("TaskData", "load_dataset"), "data"),
    **dict.fromkeys(("DaleLaw", "DeviceSynapses", "FixedPolarity", "MirrorDescent", "make_geometry"), "geometry"),
    **dict.fromkeys(("Trainer", "evaluate"), "lab"),
    **dict.fromkeys(("MLP", "PQE", "ConvNet", "EnergyConvNet", "EnergyMLP"), "models"),
    **dict.fromkeys(("Backprop", "Curl", "DirectFeedbackAlignment", "Disinhibition", "EquilibriumPropagation",
                     "FeedbackAlignment", "GeneralizedEP", "HolomorphicEP", "LearningRule", "OpticalDFA",
                     "SignSymmetry", "StepReport", "make_rule"), "rules"),
    **dict.fromkeys(("PSPM", "RecurrentLIFLayer", "SpikingMLP", "SurrogateBPTT", "SymmetricSTDP", "SymSTDPNet"),
                    "spiking"),
    "seed_everything": "utils",
}


def __getattr__(name: str) -> Any:
    """Import the submodule behind a public name on first access and cache the name in this module."""
    if name not in _LAZY:
        raise AttributeError(f"module 'plasticity' has no attribute {name!r}")
    import importlib

    mod = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    value = mod if not _LAZY[name] else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from . import analysis, circuits, continual, data, geometry, models, rules, spiking
    from .analysis import angle_between, ep_gradient_check, functional_dimension, update_alignment
    from .circuits import EIMicrocircuit
    from .continual import HLOP, TaskSequence, run_continual
    from .data import TaskData, load_dataset
    from .errors import ConfigError, DataError, DivergenceError, PlasticityError
    from .geometry import DaleLaw, DeviceSynapses, FixedPolarity, MirrorDescent, make_geometry
    from .lab import Trainer, evaluate
    from .models import MLP, PQE, ConvNet, EnergyConvNet, EnergyMLP
    from .rules import (
        Backprop,
        Curl,
        DirectFeedbackAlignment,
        Disinhibition,
        EquilibriumPropagation,
        FeedbackAlignment,
        GeneralizedEP,
        HolomorphicEP,
        LearningRule,
        OpticalDFA,
        SignSymmetry,
        StepReport,
        make_rule,
    )
    from .spiking import PSPM, RecurrentLIFLayer, SpikingMLP, SurrogateBPTT, SymmetricSTDP, SymSTDPNet
    from .utils import seed_everything

__version__ = "0.1.0"

__all__ = [
    "HLOP",
    "MLP",
    "PQE",
    "PSPM",
    "Backprop",
    "ConfigError",
    "ConvNet",
    "Curl",
    "DaleLaw",
    "DataError",
    "DeviceSynapses",
    "DirectFeedbackAlignment",
    "Disinhibition",
    "DivergenceError",
    "EIMicrocircuit",
    "EnergyConvNet",
    "EnergyMLP",
    "EquilibriumPropagation",
    "FeedbackAlignment",
    "FixedPolarity",
    "GeneralizedEP",
    "HolomorphicEP",
    "LearningRule",
    "MirrorDescent",
    "OpticalDFA",
    "PlasticityError",
    "RecurrentLIFLayer",
    "SignSymmetry",
    "SpikingMLP",
    "StepReport",
    "SurrogateBPTT",
    "SymSTDPNet",
    "SymmetricSTDP",
    "TaskData",
    "TaskSequence",
    "Trainer",
    "__version__",
    "analysis",
    "angle_between",
    "circuits",
    "continual",
    "data",
    "ep_gradient_check",
    "evaluate",
    "functional_dimension",
    "geometry",
    "load_dataset",
    "make_geometry",
    "make_rule",
    "models",
    "rules",
    "run_continual",
    "seed_everything",
    "spiking",
    "update_alignment",
]
