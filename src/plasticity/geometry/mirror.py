"""``MirrorDescent``: a torch.optim optimizer that applies any rule's ``.grad`` in the geometry of a potential.

Update (Pogodin et al., ICLR 2024, eq. 2) with heavy-ball momentum kept in the dual space:
    b ← μ·b + (g + λw);   ∇φ(w) ← ∇φ(w) − η·b;   w ← (∇φ)^{-1}(·).
Shaped like ``torch/optim/sgd.py``: the class is a thin shell over the functional ``mirror_descent``, which groups
tensors by device and dtype and runs a multi-tensor (``torch._foreach_*``) or a single-tensor path. The
single-tensor path works through each tensor in cache-sized blocks, so a potential's several elementwise passes
(sign, exp, powers, ...) read and write main memory once; the transcendental math itself still costs more than
an SGD step in eager mode (one eager ``exp`` over the tensor alone is about 0.85x an SGD-with-momentum step on
a CPU core). ``compile=True`` fuses decay, momentum and the potential into one inductor kernel per tensor,
which brings every potential but a general p-norm to within 1.5x of SGD (``benchmarks/optim_step.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim.optimizer import Optimizer

from ..errors import ConfigError, check_range
from .potentials import Euclidean, Potential, make_potential

BLOCK = 1 << 17
"""Elements per block of the single-tensor path (512 KiB in float32: L3-resident; 2^17 measured fastest of
2^15..2^19 for negentropy and p-norm on a 2-core EPYC). A multiple of every SIMD width and of ATen's grain size
divisor, so elementwise results are bit-identical to one pass over the whole tensor."""


class MirrorDescent(Optimizer):
    """Mirror descent with dual-space momentum; every group may have its own ``potential``.

    Args:
        params: parameters or param-group dicts (torch.optim conventions).
        lr: learning rate η (> 0).
        potential: ``"euclidean"``, ``"negentropy"``, ``"pnorm"``, ``"hypentropy"``, ``"3-norm"`` or a ``Potential``.
        momentum: μ in [0, 1); the buffer lives in the dual space.
        weight_decay: λ ≥ 0, added to the gradient.
        foreach: ``True`` multi-tensor kernels, ``False`` the blocked single-tensor path, ``None`` (default)
            chooses: multi-tensor on CUDA and for small CPU tensors, blocked single-tensor for large CPU tensors.
        compile: one ``torch.compile``-generated (inductor) kernel per tensor that fuses decay, momentum and the
            potential's step into a single pass; any potential; the first step of each shape pays the compilation
            (CPU needs a C++ compiler). Named ``fused`` before; that name is still accepted.
        potential_kwargs: e.g. ``p=3`` or ``beta=0.5`` when ``potential`` is a name.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, potential: str | Potential = "euclidean",
                 momentum: float = 0.0, weight_decay: float = 0.0, foreach: bool | None = None,
                 compile: bool = False, fused: bool | None = None, **potential_kwargs: float) -> None:
        check_range("lr", float(lr), 0.0, None, low_inclusive=False)
        check_range("momentum", float(momentum), 0.0, 1.0, high_inclusive=False)
        check_range("weight_decay", float(weight_decay), 0.0, None)
        if fused is not None:
            compile = bool(fused)
        defaults = dict(lr=float(lr), potential=make_potential(potential, **potential_kwargs),
                        momentum=float(momentum), weight_decay=float(weight_decay),
                        foreach=None if foreach is None else bool(foreach), compile=bool(compile))
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("compile", bool(group.pop("fused", False)))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if "potential" in param_group:
            param_group["potential"] = make_potential(param_group["potential"])
        if "fused" in param_group:
            param_group["compile"] = bool(param_group.pop("fused"))
        super().add_param_group(param_group)

    def state_dict(self) -> dict[str, Any]:
        """torch.optim state dict with each group's potential as plain data (``torch.load(weights_only=True)``)."""
        sd = super().state_dict()
        sd["param_groups"] = [{**g, "potential": g["potential"].spec()} for g in sd["param_groups"]]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = []
        for g in state_dict["param_groups"]:
            g = {**g, "potential": make_potential(g["potential"])}
            if "fused" in g:
                g["compile"] = bool(g.pop("fused"))
            groups.append(g)
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
            if not params:
                continue
            mirror_descent(params, grads, bufs, lr=group["lr"], momentum=group["momentum"],
                           weight_decay=group["weight_decay"], potential=group["potential"],
                           foreach=group["foreach"], compile=group["compile"])
            if group["momentum"]:
                for p, b in zip(params, bufs, strict=True):
                    self.state[p]["momentum_buffer"] = b
        return loss


def mirror_descent(params: list[torch.Tensor], grads: list[torch.Tensor], momentum_buffers: list[torch.Tensor | None],
                   *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                   potential: Potential | str = "euclidean", foreach: bool | None = None,
                   compile: bool = False) -> None:
    """Functional mirror-descent step (in place); new momentum buffers are written into ``momentum_buffers``.

    Tensors are grouped by device and dtype; each group takes the multi-tensor or the single-tensor path
    (``foreach=None`` chooses, see ``MirrorDescent``).
    """
    pot = make_potential(potential)
    if compile:
        _compiled(params, grads, momentum_buffers, lr, momentum, weight_decay, pot)
        return
    grouped = Optimizer._group_tensors_by_device_and_dtype([params, grads, momentum_buffers],  # type: ignore[list-item]
                                                           with_indices=True)
    for (device, _), ((ps, gs, bs), idx) in grouped.items():
        fe = foreach
        if fe is None:
            fe = device.type == "cuda" or (isinstance(pot, Euclidean) or max(p.numel() for p in ps) <= BLOCK)
        impl = _multi_tensor if fe else _single_tensor
        impl(ps, gs, bs, lr=lr, momentum=momentum, weight_decay=weight_decay, potential=pot)  # type: ignore[arg-type]
        for i, b in zip(idx, bs, strict=True):
            momentum_buffers[i] = b


def _multi_tensor(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor | None], *,
                  lr: float, momentum: float, weight_decay: float, potential: Potential) -> None:
    """``torch._foreach_*`` kernels for decay and momentum (and the Euclidean step); potentials per tensor."""
    if weight_decay:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    direction: list[torch.Tensor] = grads
    if momentum:
        if all(b is not None for b in bufs):
            torch._foreach_mul_(bufs, momentum)  # type: ignore[arg-type]
            torch._foreach_add_(bufs, grads)  # type: ignore[arg-type]
        else:
            for i, g in enumerate(grads):
                if bufs[i] is None:
                    bufs[i] = g.detach().clone()
                else:
                    bufs[i].mul_(momentum).add_(g)  # type: ignore[union-attr]
        direction = bufs  # type: ignore[assignment]
    if isinstance(potential, Euclidean):
        torch._foreach_add_(params, direction, alpha=-lr)
        return
    for p, d in zip(params, direction, strict=True):
        potential.step_(p, d, lr, _Scratch(p))


def _single_tensor(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor | None], *,
                   lr: float, momentum: float, weight_decay: float, potential: Potential) -> None:
    """One tensor at a time, in blocks of ``BLOCK`` elements: decay, momentum and the potential's step per block."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if not (p.is_contiguous() and g.is_contiguous() and (bufs[i] is None or bufs[i].is_contiguous())):  # type: ignore[union-attr]
            sub = bufs[i : i + 1]
            _multi_tensor([p], [g], sub, lr=lr, momentum=momentum, weight_decay=weight_decay, potential=potential)
            bufs[i] = sub[0]
            continue
        first = bool(momentum) and bufs[i] is None
        if first:
            bufs[i] = (g.add(p, alpha=weight_decay) if weight_decay else g).detach().clone()
        pf, gf = p.view(-1), g.view(-1)
        bf = None if bufs[i] is None else bufs[i].view(-1)  # type: ignore[union-attr]
        n = pf.numel()
        scratch = _Scratch(pf[: min(BLOCK, n)])
        dec = torch.empty_like(scratch.like) if weight_decay and not first else None
        for s in range(0, n, BLOCK):
            e = min(s + BLOCK, n)
            pb = pf[s:e]
            sc = scratch if e - s == scratch.like.numel() else _Scratch(pb)
            if first:
                d = bf[s:e]  # type: ignore[index]
            else:
                d = gf[s:e]
                if dec is not None:
                    d = torch.add(d, pb, alpha=weight_decay, out=dec[: e - s])
                if bf is not None:
                    d = bf[s:e].mul_(momentum).add_(d)
            potential.step_(pb, d, lr, sc)


class _Scratch:
    """Lazily allocated work tensors shaped like ``like`` (reused across the blocks of one tensor)."""

    def __init__(self, like: torch.Tensor) -> None:
        self.like = like
        self._t: list[torch.Tensor] = []

    def __getitem__(self, i: int) -> torch.Tensor:
        while len(self._t) <= i:
            self._t.append(torch.empty_like(self.like))
        return self._t[i]


_COMPILED: dict[tuple[Any, ...], Callable[..., None]] = {}


def _fused_step(potential: Potential) -> Callable[..., None]:
    """The whole step for one tensor as one function of tensors, for ``torch.compile`` to fuse into one loop:
    decay, heavy-ball momentum in the dual space and the potential's ``update`` (hyper-parameters are 0-dim
    tensors, so LR schedules cause no recompilation)."""

    def step(p: torch.Tensor, g: torch.Tensor, b: torch.Tensor | None, lr: torch.Tensor, mom: torch.Tensor,
             wd: torch.Tensor) -> None:
        d = g + wd * p
        if b is not None:
            b.mul_(mom).add_(d)
            d = b
        p.copy_(potential.update(p, d, lr))

    return step


def _compiled(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor | None], lr: float,
              momentum: float, weight_decay: float, potential: Potential) -> None:
    """The compiled path: one inductor kernel per tensor (compiled once per potential spec; ``dynamic=True`` so
    new shapes do not recompile). The first step with momentum creates the buffers eagerly."""
    if momentum and any(b is None for b in bufs):
        _multi_tensor(params, grads, bufs, lr=lr, momentum=momentum, weight_decay=weight_decay, potential=potential)
        return
    key = (type(potential).__name__, tuple(sorted(potential.spec().items())))
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(_fused_step(potential), dynamic=True)
    step = _COMPILED[key]
    for p, g, b in zip(params, grads, bufs, strict=True):
        hyper = [torch.tensor(v, dtype=p.dtype, device=p.device) for v in (lr, momentum, weight_decay)]
        step(p, g, b if momentum else None, *hyper)


GEOMETRIES = ("euclidean", "negentropy", "pnorm", "hypentropy")
