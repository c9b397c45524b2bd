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

    Shares ``param_groups`` and ``state`` with ``inner``; the frozen sign of each constrained parameter lives in
    ``state[p]["sign"]`` and the reset settings in each param group, so ``state_dict``/``load_state_dict``,
    ``add_param_group`` (new parameters take the signs they have then, or a seeded random pattern) and LR
    schedulers are the standard torch.optim ones. ``project=True`` makes the weights agree with the pattern at
    construction (w ← s·|w|). Optimizers that initialise their state lazily (Adam) see the sign entry only after
    their own first step.
    """

    def __init__(self, inner: torch.optim.Optimizer, pattern: Any = "init", reset: str = "mirror",
                 epsilon: float = 1e-3, seed: int = 0, include_bias: bool = False, project: bool = True) -> None:
        if not isinstance(inner, torch.optim.Optimizer):
            raise ConfigError(f"inner must be a torch.optim.Optimizer, got {type(inner).__name__}")
        check_choice("reset", reset, RESETS)
        check_range("epsilon", float(epsilon), 0.0, None, low_inclusive=False)
        self.inner = inner
        self.seed = int(seed)
        self.pattern_kind = pattern if isinstance(pattern, str) else "given"
        self._pending: dict[torch.Tensor, torch.Tensor] = {}
        all_params = [p for g in inner.param_groups for p in g["params"]]
        super().__init__([{"params": all_params}], dict(inner.defaults))
        self.param_groups = inner.param_groups
        self.state = inner.state
        self._ready = True
        for g in self.param_groups:
            g.setdefault("reset", reset)
            g.setdefault("epsilon", float(epsilon))
            g.setdefault("include_bias", bool(include_bias))
        signs = polarity_pattern(all_params, pattern, seed, include_bias)
        for p, s in zip(_constrained(all_params, include_bias), signs, strict=True):
            self._set_sign(p, s)
        if project:
            self.enforce(mode="mirror")

    def _set_sign(self, p: torch.Tensor, s: torch.Tensor) -> None:
        s = s.to(device=p.device, dtype=p.dtype)
        if p in self.state and len(self.state[p]) > 0:
            self.state[p]["sign"] = s
        else:
            self._pending[p] = s                     # keep lazily initialised inner state (Adam) empty

    def sign(self, p: torch.Tensor) -> torch.Tensor | None:
        """The frozen sign tensor of ``p`` (None when ``p`` is not constrained)."""
        st = self.state.get(p)
        if st is not None and "sign" in st:
            return st["sign"]
        return self._pending.get(p)

    @property
    def params(self) -> list[torch.Tensor]:
        """The constrained parameters, in parameter order."""
        return [p for g in self.param_groups for p in g["params"] if self.sign(p) is not None]

    @property
    def signs(self) -> list[torch.Tensor]:
        """Frozen sign tensors of the constrained parameters, in parameter order."""
        return [s for g in self.param_groups for p in g["params"] if (s := self.sign(p)) is not None]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer; its constrained parameters freeze their current signs (``pattern
        ='random'``: seeded random signs), projected onto them when the group says ``project=True``."""
        if not getattr(self, "_ready", False):          # torch.optim.Optimizer.__init__ registering the shell
            super().add_param_group(param_group)
            return
        project = bool(param_group.pop("project", False))
        self.inner.add_param_group(param_group)
        group = self.param_groups[-1]
        first = self.param_groups[0]
        for key in ("reset", "epsilon", "include_bias"):
            group.setdefault(key, first[key])
        params = _constrained(group["params"], group["include_bias"])
        kind = "random" if self.pattern_kind == "random" else "init"
        for p, s in zip(params, polarity_pattern(params, kind, self.seed + len(self.param_groups), True),
                        strict=True):
            self._set_sign(p, s)
        if project:
            self.enforce(mode="mirror")

    def _flush(self) -> None:
        for p in [p for p in self._pending if len(self.state[p]) > 0]:
            self.state[p]["sign"] = self._pending.pop(p)
        for p in [p for p in self._pending if len(self.state[p]) == 0]:
            self.state.pop(p, None)

    @torch.no_grad()
    def enforce(self, mode: str | None = None) -> int:
        """Put sign-violating weights back (``mode`` defaults to each group's ``reset``); returns how many were reset."""
        n = 0
        for group in self.param_groups:
            how = mode or group["reset"]
            for p in group["params"]:
                s = self.sign(p)
                if s is None:
                    continue
                bad = (p * s) < 0
                n += int(bad.sum()) if p.device.type == "cpu" else 0
                if how == "zero":
                    p.masked_fill_(bad, 0.0)
                elif how == "epsilon":
                    p.copy_(torch.where(bad, s * group["epsilon"], p))
                else:
                    p.copy_(s * p.abs())
        return n

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = self.inner.step(closure)
        self._flush()
        self.last_resets = self.enforce()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The standard torch.optim state dict (signs are per-parameter state; not-yet-stepped ones ride along)."""
        sd = self.inner.state_dict()
        if self._pending:
            index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
            sd["pending_signs"] = {index[id(p)]: s.detach().clone() for p, s in self._pending.items()}
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        sd = dict(state_dict)
        pending = sd.pop("pending_signs", {})
        self.inner.load_state_dict(sd)
        self.param_groups = self.inner.param_groups
        self.state = self.inner.state
        params = [p for g in self.param_groups for p in g["params"]]
        self._pending = {}
        for i, s in pending.items():
            p = params[int(i)]
            if p.shape != s.shape:
                raise ConfigError(f"saved sign pattern has shape {tuple(s.shape)}, expected {tuple(p.shape)}")
            self._pending[p] = s.to(device=p.device, dtype=p.dtype)
        for p in params:
            st = self.state.get(p)
            if st is not None and "sign" in st and st["sign"].shape != p.shape:
                raise ConfigError(f"saved sign pattern has shape {tuple(st['sign'].shape)}, expected {tuple(p.shape)}")


def DaleLaw(inner: torch.optim.Optimizer, excitatory: float = 0.8, seed: int = 0, reset: str = "zero",
            from_weights: bool = False, project: bool = True) -> FixedPolarity:
    """``FixedPolarity`` with a Dale's-law pattern: every presynaptic neuron is excitatory or inhibitory."""
    params = [p for g in inner.param_groups for p in g["params"]]
    return FixedPolarity(inner, dale_pattern(params, excitatory, seed, from_weights), reset=reset, project=project)
