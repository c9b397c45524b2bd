"""``MirrorDescent``: a torch.optim optimizer that applies any rule's ``.grad`` in the geometry of a potential.

Update (Pogodin et al., ICLR 2024, eq. 2) with heavy-ball momentum kept in the dual space:
    b ← μ·b + (g + λw);   ∇φ(w) ← ∇φ(w) − η·b;   w ← (∇φ)^{-1}(·).
Euclidean has a ``torch._foreach`` path; negentropy (w ← w·exp(−η·sign(w)·b)) runs in place in a reused
scratch buffer; other potentials go through ``grad``/``inverse`` of the potential, vectorised per tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..errors import ConfigError, check_range
from .potentials import Euclidean, NegEntropy, Potential, make_potential


class MirrorDescent(torch.optim.Optimizer):
    """Mirror descent with dual-space momentum; every group may have its own ``potential``.

    Args:
        params: parameters or param-group dicts (torch.optim conventions).
        lr: learning rate η (> 0).
        potential: ``"euclidean"``, ``"negentropy"``, ``"pnorm"``, ``"hypentropy"``, ``"3-norm"`` or a ``Potential``.
        momentum: μ in [0, 1); the buffer lives in the dual space.
        weight_decay: λ ≥ 0, added to the gradient.
        foreach: use the ``torch._foreach_*`` multi-tensor kernels (default True).
        fused: negentropy only: one ``torch.compile``-generated kernel per tensor for momentum, decay and the
            exponentiated step (about SGD's cost on CPU; the first step pays the compilation).
        potential_kwargs: e.g. ``p=3`` or ``beta=0.5`` when ``potential`` is a name.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, potential: str | Potential = "euclidean",
                 momentum: float = 0.0, weight_decay: float = 0.0, foreach: bool = True, fused: bool = False,
                 **potential_kwargs: float) -> None:
        check_range("lr", float(lr), 0.0, None, low_inclusive=False)
        check_range("momentum", float(momentum), 0.0, 1.0, high_inclusive=False)
        check_range("weight_decay", float(weight_decay), 0.0, None)
        defaults = dict(lr=float(lr), potential=make_potential(potential, **potential_kwargs),
                        momentum=float(momentum), weight_decay=float(weight_decay), foreach=bool(foreach),
                        fused=bool(fused))
        super().__init__(params, defaults)
        self._scratch: dict[torch.Tensor, torch.Tensor] = {}  # work buffers, not state (not saved)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if "potential" in param_group:
            param_group["potential"] = make_potential(param_group["potential"])
        super().add_param_group(param_group)

    def state_dict(self) -> dict[str, Any]:
        """torch.optim state dict with each group's potential as plain data (``torch.load(weights_only=True)``)."""
        sd = super().state_dict()
        sd["param_groups"] = [{**g, "potential": g["potential"].spec()} for g in sd["param_groups"]]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = [{**g, "potential": make_potential(g["potential"])} for g in state_dict["param_groups"]]
        super().load_state_dict({**state_dict, "param_groups": groups})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, bufs = [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ConfigError("MirrorDescent does not support sparse gradients")
                params.append(p)
                grads.append(p.grad)
                bufs.append(self.state[p].get("momentum_buffer"))
            if params:
                self._update_group(group, params, grads, bufs)
        return loss

    def _update_group(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor],
                      bufs: list[torch.Tensor | None]) -> None:
        lr, mom, wd = group["lr"], group["momentum"], group["weight_decay"]
        pot: Potential = group["potential"]
        fe = group["foreach"]
        if group.get("fused") and isinstance(pot, NegEntropy) and (not mom or all(b is not None for b in bufs)):
            step = _fused_eg()
            hyper = [torch.tensor(v, dtype=params[0].dtype, device=params[0].device) for v in (lr, mom, wd)]
            for p, g, b in zip(params, grads, bufs, strict=True):
                step(p, g, b if mom else None, *hyper)
            return
        if wd:
            grads = torch._foreach_add(grads, params, alpha=wd) if fe else [g.add(p, alpha=wd) for g, p in zip(grads, params, strict=True)]
        if mom:
            if all(b is not None for b in bufs):
                if fe:
                    torch._foreach_mul_(bufs, mom)
                    torch._foreach_add_(bufs, grads)
                else:
                    for b, g in zip(bufs, grads, strict=True):
                        b.mul_(mom).add_(g)
            else:
                for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                    if bufs[i] is None:
                        bufs[i] = g.detach().clone()
                        self.state[p]["momentum_buffer"] = bufs[i]
                    else:
                        bufs[i].mul_(mom).add_(g)
            direction = bufs
        else:
            direction = grads
        if isinstance(pot, Euclidean):
            if fe:
                torch._foreach_add_(params, direction, alpha=-lr)
            else:
                for p, d in zip(params, direction, strict=True):
                    p.add_(d, alpha=-lr)
        elif isinstance(pot, NegEntropy):
            # w ← w·exp(−η·sign(w)·b), computed in a reused scratch buffer per parameter: large CPU
            # allocations (page faults) cost as much as the arithmetic.
            for p, d in zip(params, direction, strict=True):
                sc = self._scratch.get(p)
                if sc is None or sc.shape != p.shape or sc.dtype != p.dtype or sc.device != p.device:
                    sc = self._scratch[p] = torch.empty_like(p)
                torch.sign(p, out=sc)
                sc.mul_(d).mul_(-lr).exp_()
                p.mul_(sc)
        else:
            for p, d in zip(params, direction, strict=True):
                theta = pot.grad(p).sub_(d, alpha=lr)
                p.copy_(pot.inverse(theta, torch.sign(p) if pot.preserves_sign else None))


def _eg_step(p: torch.Tensor, g: torch.Tensor, b: torch.Tensor | None, lr: torch.Tensor, mom: torch.Tensor,
             wd: torch.Tensor) -> None:
    d = g + wd * p
    if b is not None:
        b.mul_(mom).add_(d)
        d = b
    p.mul_(torch.exp(-lr * torch.sign(p) * d))


_COMPILED: dict[str, Callable[..., None]] = {}


def _fused_eg() -> Callable[..., None]:
    """The exponentiated-gradient step compiled once (hyper-parameters are tensors: no recompiles on LR changes)."""
    if "eg" not in _COMPILED:
        _COMPILED["eg"] = torch.compile(_eg_step, dynamic=True)
    return _COMPILED["eg"]


GEOMETRIES = ("euclidean", "negentropy", "pnorm", "hypentropy")
