"""Fixed weight polarity and Dale's law as a wrapper around any optimizer (Wang et al., ICML 2023).

``FixedPolarity(inner, pattern, reset)`` runs ``inner.step()`` and then puts every weight whose sign
disagrees with its frozen sign back: to zero, to ±epsilon, or mirrored (|w| with the frozen sign), the
reset options of AliceQingyangWang/weightPolarityExpr. ``DaleLaw`` is the special case of one sign per
presynaptic neuron (input column of a weight matrix). Only tensors with ≥ 2 dims are constrained by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, check_choice, check_range

RESETS = ("zero", "epsilon", "mirror")
PATTERNS = ("init", "random")


def _constrained(params: Sequence[torch.Tensor], include_bias: bool) -> list[torch.Tensor]:
    return [p for p in params if include_bias or p.dim() >= 2]


def polarity_pattern(params: Sequence[torch.Tensor], pattern: Any = "init", seed: int = 0,
                     include_bias: bool = False) -> list[torch.Tensor]:
    """±1 sign tensors for the constrained ``params``.

    ``pattern``: ``"init"`` (signs of the current weights; zeros count as +), ``"random"`` (seeded ±1),
    an ``nn.Module`` (transfer: signs of its parameters, same architecture), or a list of tensors / a
    single tensor (one per constrained parameter, same shapes).
    """
    ps = _constrained(params, include_bias)
    if isinstance(pattern, str):
        check_choice("pattern", pattern, PATTERNS)
        if pattern == "init":
            return [torch.where(p.detach() < 0, -1.0, 1.0).to(p.dtype) for p in ps]
        g = torch.Generator().manual_seed(int(seed))
        return [(torch.randint(0, 2, p.shape, generator=g) * 2 - 1).to(device=p.device, dtype=p.dtype) for p in ps]
    if isinstance(pattern, nn.Module):
        pattern = _constrained(list(pattern.parameters()), include_bias)
    if isinstance(pattern, torch.Tensor):
        pattern = [pattern]
    if not isinstance(pattern, list | tuple):
        raise ConfigError(f"pattern must be one of {', '.join(PATTERNS)}, an nn.Module or a list of tensors; "
                          f"got {type(pattern).__name__}")
    if len(pattern) != len(ps):
        raise ConfigError(f"pattern has {len(pattern)} tensors but there are {len(ps)} constrained parameters")
    out = []
    for i, (s, p) in enumerate(zip(pattern, ps, strict=True)):
        if tuple(s.shape) != tuple(p.shape):
            raise ConfigError(f"pattern[{i}] has shape {tuple(s.shape)}, expected {tuple(p.shape)} (argument 'pattern')")
        out.append(torch.where(s.detach() < 0, -1.0, 1.0).to(device=p.device, dtype=p.dtype))
    return out


def dale_pattern(params: Sequence[torch.Tensor], excitatory: float = 0.8, seed: int = 0,
                 from_weights: bool = False) -> list[torch.Tensor]:
    """Dale's law signs: one sign per presynaptic neuron (dim 1 of each weight), broadcast over outputs.

    Random with fraction ``excitatory`` positive, or (``from_weights``) the sign of each column's sum.
    """
    check_range("excitatory", float(excitatory), 0.0, 1.0)
    g = torch.Generator().manual_seed(int(seed))
    out = []
    for p in _constrained(params, False):
        n_in = p.shape[1]
        if from_weights:
            col = p.detach().transpose(0, 1).reshape(n_in, -1).sum(1)
            s = torch.where(col < 0, -1.0, 1.0)
        else:
            s = torch.where(torch.rand(n_in, generator=g) < excitatory, 1.0, -1.0)
        shape = [1, n_in] + [1] * (p.dim() - 2)
        out.append(s.to(device=p.device, dtype=p.dtype).reshape(shape).expand_as(p).contiguous())
    return out


class FixedPolarity(torch.optim.Optimizer):
    """Wrap ``inner`` so that constrained weights keep the signs in ``pattern`` after every step.

    Shares ``param_groups`` and ``state`` with ``inner``, so LR schedulers and checkpoints act on it.
    ``project=True`` makes the weights agree with the pattern at construction (w ← s·|w|).
    """

    def __init__(self, inner: torch.optim.Optimizer, pattern: Any = "init", reset: str = "mirror",
                 epsilon: float = 1e-3, seed: int = 0, include_bias: bool = False, project: bool = True) -> None:
        if not isinstance(inner, torch.optim.Optimizer):
            raise ConfigError(f"inner must be a torch.optim.Optimizer, got {type(inner).__name__}")
        self.reset = check_choice("reset", reset, RESETS)
        self.epsilon = check_range("epsilon", float(epsilon), 0.0, None, low_inclusive=False)
        all_params = [p for g in inner.param_groups for p in g["params"]]
        self.params = _constrained(all_params, include_bias)
        signs = polarity_pattern(all_params, pattern, seed, include_bias)
        self.signs = [s.to(device=p.device, dtype=p.dtype) for s, p in zip(signs, self.params, strict=True)]
        self.inner = inner
        super().__init__([{"params": all_params}], dict(inner.defaults))
        self.param_groups = inner.param_groups
        self.state = inner.state
        if project:
            self.enforce(mode="mirror")

    @torch.no_grad()
    def enforce(self, mode: str | None = None) -> int:
        """Put sign-violating weights back (``mode`` defaults to ``reset``); returns how many were reset."""
        mode = mode or self.reset
        n = 0
        for p, s in zip(self.params, self.signs, strict=True):
            bad = (p * s) < 0
            n += int(bad.sum()) if p.device.type == "cpu" else 0
            if mode == "zero":
                p.masked_fill_(bad, 0.0)
            elif mode == "epsilon":
                p.copy_(torch.where(bad, s * self.epsilon, p))
            else:
                p.copy_(s * p.abs())
        return n

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = self.inner.step(closure)
        self.last_resets = self.enforce()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "signs": [s.detach().cpu().clone() for s in self.signs],
                "reset": self.reset, "epsilon": self.epsilon}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.inner.load_state_dict(state_dict["inner"])
        self.param_groups = self.inner.param_groups
        self.state = self.inner.state
        for s, t in zip(self.signs, state_dict["signs"], strict=True):
            if s.shape != t.shape:
                raise ConfigError(f"saved sign pattern has shape {tuple(t.shape)}, expected {tuple(s.shape)}")
            s.copy_(t.to(s.device))
        self.reset, self.epsilon = state_dict["reset"], state_dict["epsilon"]


def DaleLaw(inner: torch.optim.Optimizer, excitatory: float = 0.8, seed: int = 0, reset: str = "zero",
            from_weights: bool = False, project: bool = True) -> FixedPolarity:
    """``FixedPolarity`` with a Dale's-law pattern: every presynaptic neuron is excitatory or inhibitory."""
    params = [p for g in inner.param_groups for p in g["params"]]
    return FixedPolarity(inner, dale_pattern(params, excitatory, seed, from_weights), reset=reset, project=project)
