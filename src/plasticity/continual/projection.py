"""Continual-learning methods as gradient transforms: fine-tuning, exact-SVD projection and HLOP.

A method is called on the model between ``rule.step`` and ``optimizer.step`` (``Trainer(transforms=[m])``)
and learns after each task (``m.after_task(model, task, t)``). The projection methods replace each layer's
gradient G (out x n, bias appended as a column) by G (I - M^T M), with M the stored subspace of that
layer's presynaptic activity (HLOP, Xiao et al. ICLR 2024, Eq. 3; GPM, Saha et al. 2021). Every rule whose
weight update is sum_b delta_b x_b^T (BP, FA, sign symmetry, DFA, surrogate-gradient SNNs) then leaves the
responses to old inputs unchanged. The optimiser must keep updates inside the span of past gradients
(SGD, with or without momentum, reset per task); Adam's per-coordinate scaling or weight decay break it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..data.task import TaskData
from ..errors import ConfigError, DivergenceError, check_choice, check_range
from ..rules.base import plastic_layers
from .activity import activity_rows, collect_activity, layer_input_dim
from .subspace import HebbianSubspace, captured_energy, check_components, svd_components

ComponentSpec = int | Sequence[int]


class ContinualMethod:
    """Plain fine-tuning: no transform, nothing learnt between tasks. Base class of the projections."""

    name = "finetune"

    def __init__(self) -> None:
        self.layers: list[tuple[str, nn.Module]] = []
        self._model_id: int | None = None
        self.history: list[dict[str, Any]] = []

    def prepare(self, model: nn.Module) -> ContinualMethod:
        """Find the model's Linear/Conv2d layers (idempotent per model)."""
        if self._model_id != id(model):
            self.layers = plastic_layers(model)
            if not self.layers:
                raise ConfigError(f"model {type(model).__name__} has no Linear/Conv2d layer to protect")
            self._model_id = id(model)
        return self

    def plan(self, model: nn.Module, n_tasks: int) -> None:
        """Check before training that ``n_tasks`` tasks fit (raises ``ConfigError`` otherwise)."""
        self.prepare(model)

    def __call__(self, model: nn.Module) -> None:
        """Transform the gradients in place (fine-tuning: nothing)."""

    def after_task(self, model: nn.Module, task: TaskData, task_index: int) -> dict[str, Any]:
        """Learn from the task just finished; returns diagnostics."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class FineTune(ContinualMethod):
    """Sequential training with no protection: the forgetting baseline."""


class _Projection(ContinualMethod):
    """Shared machinery of SVD and HLOP: per-layer subspaces, component schedule, the gradient projection."""

    def __init__(self, components: ComponentSpec = 10, components_per_task: Sequence[ComponentSpec] | None = None,
                 include_bias: bool = True, max_rows: int | None = 20000, batch_size: int = 512,
                 seed: int = 0) -> None:
        super().__init__()
        self.components = components
        self.components_per_task = list(components_per_task) if components_per_task is not None else None
        for spec in [components, *(self.components_per_task or [])]:
            for k in [spec] if isinstance(spec, int) else list(spec):
                check_range("components", k, 0)
        self.include_bias = bool(include_bias)
        self.max_rows = None if max_rows is None else int(check_range("max_rows", max_rows, 1))
        self.batch_size = int(check_range("batch_size", batch_size, 1))
        self.seed = int(seed)
        self.dims: dict[str, int] = {}

    def prepare(self, model: nn.Module) -> _Projection:
        if self._model_id != id(model):
            super().prepare(model)
            self.dims = {name: layer_input_dim(m, self.include_bias) for name, m in self.layers}
        return self

    def components_for(self, task_index: int, layer_index: int) -> int:
        """Components added to layer ``layer_index`` after task ``task_index`` (last schedule entry repeats)."""
        sched = self.components_per_task
        spec = sched[min(task_index, len(sched) - 1)] if sched else self.components
        if isinstance(spec, int):
            return spec
        spec = list(spec)
        if len(spec) != len(self.layers):
            raise ConfigError(f"components {spec} list one number per layer but the model has {len(self.layers)} "
                              f"Linear/Conv2d layers ({', '.join(n for n, _ in self.layers)})")
        return int(spec[layer_index])

    def plan(self, model: nn.Module, n_tasks: int) -> None:
        self.prepare(model)
        for li, (name, _) in enumerate(self.layers):
            total = self.stored(name) + sum(self.components_for(t, li) for t in range(int(n_tasks)))
            check_components(name, total, self.dims[name])

    # -- subclass interface ------------------------------------------------------------------
    def stored(self, name: str) -> int:
        return self.rows(name).shape[0]

    def rows(self, name: str) -> torch.Tensor:
        """The k x n matrix M whose row space is projected out of layer ``name``'s gradient."""
        raise NotImplementedError

    def _learn(self, name: str, x: torch.Tensor, k: int) -> None:
        raise NotImplementedError

    # -- the transform -----------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        self.prepare(model)
        for name, module in self.layers:
            m = self.rows(name)
            gw = module.weight.grad
            if m.numel() == 0 or gw is None:
                continue
            m = m.to(gw)
            n_w = gw[0].numel()
            g = gw.reshape(gw.shape[0], n_w)
            with_bias = self.include_bias and module.bias is not None
            if with_bias:
                gb = module.bias.grad
                col = gb.reshape(-1, 1) if gb is not None else torch.zeros_like(g[:, :1])
                g = torch.cat([g, col], 1)
            g = g - (g @ m.t()) @ m
            gw.copy_(g[:, :n_w].reshape(gw.shape))
            if with_bias and module.bias.grad is not None:
                module.bias.grad.copy_(g[:, n_w])

    def after_task(self, model: nn.Module, task: TaskData, task_index: int) -> dict[str, Any]:
        """Collect each layer's activity on ``task``'s training inputs and add its subspace components."""
        self.prepare(model)
        dev = next(model.parameters()).device
        acts = collect_activity(model, task.x_train.to(dev), self.layers, batch_size=self.batch_size,
                                max_rows=self.max_rows, include_bias=self.include_bias,
                                seed=self.seed * 1_000_003 + task_index)
        info: dict[str, Any] = {"task": task_index}
        for li, (name, _) in enumerate(self.layers):
            k = self.components_for(task_index, li)
            check_components(name, self.stored(name) + k, self.dims[name])
            self._learn(name, acts[name], k)
            info[f"components.{name}"] = self.stored(name)
            info[f"captured.{name}"] = captured_energy(acts[name], self.rows(name))
        self.history.append(info)
        return info

    def state_dict(self) -> dict[str, Any]:
        return {"rows": {n: self.rows(n).detach().cpu().clone() for n, _ in self.layers}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(components={self.components!r})"


class SVDProjection(_Projection):
    """Exact reference: after each task add the top-k principal directions of the residual activity (SVD)."""

    name = "svd"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bases: dict[str, torch.Tensor] = {}

    def rows(self, name: str) -> torch.Tensor:
        return self.bases.get(name, torch.zeros(0, self.dims.get(name, 0)))

    def _learn(self, name: str, x: torch.Tensor, k: int) -> None:
        if k == 0:
            return
        old = self.rows(name).to(x.device)
        new = svd_components(x, k, old)
        self.bases[name] = torch.cat([old, new.to(old)])


class HLOP(_Projection):
    """Hebbian learning based orthogonal projection: a lateral Hebbian/anti-Hebbian circuit per layer.

    After each task, ``components`` new lateral neurons per layer learn (``epochs`` passes over at most
    ``max_rows`` rows of the task's activity, relative rate ``lr``, ``momentum``, ``iterations`` updates per
    batch of ``hebb_batch``, ``rule`` 'gha' or 'oja'; see ``HebbianSubspace``) while the old ones stay
    fixed; the gradient is then projected with the lateral weights themselves, G (I - M^T M), as the
    recurrent circuit would compute it, without orthonormalising M.
    """

    name = "hlop"

    def __init__(self, components: ComponentSpec = 10, components_per_task: Sequence[ComponentSpec] | None = None,
                 lr: float = 0.1, momentum: float = 0.9, epochs: int = 10, hebb_batch: int = 64,
                 iterations: int = 1, anneal: bool = True, normalize: bool = True, rule: str = "gha",
                 include_bias: bool = True,
                 max_rows: int | None = 5000, batch_size: int = 512, seed: int = 0) -> None:
        super().__init__(components, components_per_task, include_bias=include_bias, max_rows=max_rows,
                         batch_size=batch_size, seed=seed)
        self.lr = check_range("lr", lr, 0.0, low_inclusive=False)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
        self.epochs = int(check_range("epochs", epochs, 1))
        self.hebb_batch = int(check_range("hebb_batch", hebb_batch, 1))
        self.iterations = int(check_range("iterations", iterations, 1))
        self.anneal = bool(anneal)
        self.normalize = bool(normalize)
        self.rule = check_choice("rule", rule, ("gha", "oja"))
        self.subspaces: dict[str, HebbianSubspace] = {}

    def subspace(self, name: str) -> HebbianSubspace:
        if name not in self.subspaces:
            idx = [n for n, _ in self.layers].index(name)
            self.subspaces[name] = HebbianSubspace(self.dims[name], lr=self.lr, momentum=self.momentum,
                                                   iterations=self.iterations, anneal=self.anneal, normalize=self.normalize,
                                                   rule=self.rule,
                                                   seed=self.seed * 1_000_003 + 101 * idx, name=name)
        return self.subspaces[name]

    def rows(self, name: str) -> torch.Tensor:
        return self.subspace(name).weight

    def _learn(self, name: str, x: torch.Tensor, k: int) -> None:
        sub = self.subspace(name)
        sub.add_components(k)
        sub.fit(x, epochs=self.epochs, batch_size=self.hebb_batch)
        sub.freeze()

    def orthonormality_error(self) -> dict[str, float]:
        """max |M M^T - I| per layer: how far the lateral weights are from an orthonormal basis."""
        out = {}
        for name, sub in self.subspaces.items():
            w = sub.weight
            if w.numel():
                out[name] = float((w @ w.t() - torch.eye(w.shape[0], device=w.device)).abs().max())
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"subspaces": {n: s.state_dict() for n, s in self.subspaces.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for n, s in state.get("subspaces", {}).items():
            self.subspace(n).load_state_dict(s)


class OnlineHLOP(_Projection):
    """HLOP as the reference code runs it (HLOP-SNN ``modules/hlop_module.py``): the lateral neurons learn
    online, on every training batch of a task, from the same presynaptic activity the weight update uses.

    During task t the gradient is projected with the subspace merged after tasks 0..t-1 (none for task 0),
    G (I - M_old^T M_old), while ``components_for(t)`` new lateral neurons run ``iterations`` Oja updates
    dM = lr * y (x - M^T y)^T per batch (old rows fixed, momentum, each change clamped to +-``clamp``), with
    ``lr`` one rate or one per layer (the reference: 0.001 for the pixel layer, 0.01 for spiking layers).
    After the task the new neurons are merged into the subspace and the next task's neurons are added.
    Activity rows come from a forward pre-hook on each layer while the model is in training mode.
    """

    name = "hlop-online"

    def __init__(self, components: ComponentSpec = 10, components_per_task: Sequence[ComponentSpec] | None = None,
                 lr: float | Sequence[float] = 0.01, momentum: float = 0.9, iterations: int = 5,
                 clamp: float | None = 10.0, rule: str = "oja", include_bias: bool = True,
                 diagnostic_rows: int = 2000, seed: int = 0) -> None:
        super().__init__(components, components_per_task, include_bias=include_bias, max_rows=diagnostic_rows,
                         seed=seed)
        lrs = [lr] if isinstance(lr, int | float) else list(lr)
        self.lrs = [check_range("lr", v, 0.0, low_inclusive=False) for v in lrs]
        self.momentum = check_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
        self.iterations = int(check_range("iterations", iterations, 1))
        self.clamp = None if clamp is None else check_range("clamp", clamp, 0.0, low_inclusive=False)
        self.rule = check_choice("rule", rule, ("gha", "oja"))
        self.subspaces: dict[str, HebbianSubspace] = {}
        self._rows: dict[str, torch.Tensor] = {}
        self._hooks: list[Any] = []
        self.n_tasks = 0

    def lr_for(self, layer_index: int) -> float:
        if len(self.lrs) == 1:
            return float(self.lrs[0])
        if len(self.lrs) != len(self.layers):
            raise ConfigError(f"lr lists {len(self.lrs)} rates but the model has {len(self.layers)} Linear/Conv2d "
                              "layers; allowed: one rate, or one per layer")
        return float(self.lrs[layer_index])

    def prepare(self, model: nn.Module) -> OnlineHLOP:
        if self._model_id != id(model):
            for h in self._hooks:
                h.remove()
            super().prepare(model)
            self.subspaces = {name: HebbianSubspace(self.dims[name], momentum=self.momentum, rule=self.rule,
                                                    seed=self.seed * 1_000_003 + 101 * i, name=name)
                              for i, (name, _) in enumerate(self.layers)}
            self._hooks = [m.register_forward_pre_hook(self._make_hook(name, m)) for name, m in self.layers]
            for i, _ in enumerate(self.layers):
                self.lr_for(i)
        return self

    def _make_hook(self, name: str, module: nn.Module):
        def hook(mod: nn.Module, inputs: tuple) -> None:
            if mod.training and torch.is_grad_enabled():
                self._rows[name] = activity_rows(module, inputs[0].detach(), self.include_bias)
        return hook

    def plan(self, model: nn.Module, n_tasks: int) -> None:
        super().plan(model, n_tasks)
        self.n_tasks = int(n_tasks)
        self._add(0)

    def _add(self, task_index: int) -> None:
        for li, (name, _) in enumerate(self.layers):
            sub = self.subspaces[name]
            sub.add_components(self.components_for(task_index, li))

    def rows(self, name: str) -> torch.Tensor:
        """The merged subspace (rows fixed at the end of earlier tasks): what the projection uses."""
        sub = self.subspaces.get(name)
        return torch.zeros(0, self.dims.get(name, 0)) if sub is None else sub.weight[: sub.n_fixed]

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        super().__call__(model)                  # project with the old subspace
        for li, (name, _) in enumerate(self.layers):
            x = self._rows.pop(name, None)
            sub = self.subspaces[name]
            if x is None or sub.n_components == sub.n_fixed:
                continue
            sub.to(x.device)
            x = x.to(sub.weight.dtype)
            for _ in range(self.iterations):
                sub.update(x, self.lr_for(li), clamp=self.clamp)
        if not all(bool(torch.isfinite(s.weight).all()) for s in self.subspaces.values()):
            raise DivergenceError("lateral Hebbian weights became non-finite; lower the HLOP lr "
                                  f"(now {self.lrs})")

    def after_task(self, model: nn.Module, task: TaskData, task_index: int) -> dict[str, Any]:
        """Merge this task's lateral neurons into the subspace, add the next task's, report captured energy."""
        self.prepare(model)
        for sub in self.subspaces.values():
            sub.freeze()
        dev = next(model.parameters()).device
        acts = collect_activity(model, task.x_train.to(dev), self.layers, batch_size=self.batch_size,
                                max_rows=self.max_rows, include_bias=self.include_bias,
                                seed=self.seed * 1_000_003 + task_index)
        info: dict[str, Any] = {"task": task_index}
        for name, _ in self.layers:
            info[f"components.{name}"] = self.stored(name)
            info[f"captured.{name}"] = captured_energy(acts[name], self.rows(name))
        self.history.append(info)
        if task_index + 1 < self.n_tasks:
            self._add(task_index + 1)
        return info

    def orthonormality_error(self) -> dict[str, float]:
        """max |M M^T - I| per layer over the merged rows."""
        out = {}
        for name in self.subspaces:
            w = self.rows(name)
            if w.numel():
                out[name] = float((w @ w.t() - torch.eye(w.shape[0], device=w.device)).abs().max())
        return out

    def _learn(self, name: str, x: torch.Tensor, k: int) -> None:  # learning happens online
        raise NotImplementedError
