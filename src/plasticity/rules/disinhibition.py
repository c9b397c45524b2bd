"""Dis-inhibitory control of plasticity as a learning rule for rate networks (Rossbroich & Zenke, NeurIPS 2023).

Every hidden unit of an MLP is the excitatory cell of an E-I pair (``circuits.disinhibition``). The output
error e = dL/dŷ drives a top-down controller whose signal ``t_l = −gain · e B_l`` (fixed random B_l, one per
hidden layer) inhibits the interneurons: where t > 0 the E cell is dis-inhibited. After the pair settles,
each feedforward synapse changes by ``Δw = pre · (w_EI r_E − f_I⁻¹(r_I)) f_E'(u_E)`` — a local Hebbian
rule whose sign is set by the inhibition. The readout learns by the delta rule. ``.grad`` holds −Δw.
"""

from __future__ import annotations

import torch
from torch import nn

from ..circuits.disinhibition import INVERSES, EIMicrocircuit, Relu, SoftReLU
from ..errors import check_choice, check_range
from .base import LearningRule, StepReport, UnsupportedModelError, plastic_layers, unsupported_weights


class _ModuleActivation:
    """Adapter giving an elementwise ``nn.Module`` activation a ``deriv`` (by autograd)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return self.module(u)

    def deriv(self, u: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            v = u.detach().requires_grad_(True)
            return torch.autograd.grad(self.module(v).sum(), v)[0]


class Disinhibition(LearningRule):
    """Top-down dis-inhibition sets the sign of a local Hebbian rule in every hidden layer.

    ``gain``: controller gain on the output error; ``inverse``: 'exact' or 'linear' (θ + δ r_I) reading of
    inhibition; ``steps``/``dt``: Euler settling of each E-I pair from its open-loop state.
    """

    name = "disinhibition"

    def __init__(self, loss: str = "auto", seed: int = 0, gain: float = 1.0, inverse: str = "exact",
                 theta: float = 0.0, delta: float = 1.0, steps: int = 30, dt: float = 0.25,
                 inh_shift: float = 3.0) -> None:
        super().__init__(loss=loss, seed=seed)
        self.gain = check_range("gain", gain, 0.0, low_inclusive=False)
        self.inverse = check_choice("inverse", inverse, INVERSES)
        self.theta, self.delta = float(theta), float(delta)
        self.steps = int(check_range("steps", steps, 1))
        self.dt = check_range("dt", dt, 0.0, 1.0, low_inclusive=False)
        self.inh_shift = float(inh_shift)
        self._layers: list[tuple[str, nn.Linear]] = []
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._circuit: EIMicrocircuit | None = None
        self._last: dict[str, float] = {}

    def _prepare(self, model: nn.Module) -> None:
        bad = unsupported_weights(model)
        if bad:
            raise UnsupportedModelError(f"the disinhibition rule cannot act on {', '.join(bad)}; "
                                        "it needs a model of nn.Linear layers (e.g. MLP)")
        layers = plastic_layers(model)
        if len(layers) < 2 or not all(isinstance(m, nn.Linear) for _, m in layers):
            raise UnsupportedModelError("the disinhibition rule needs a model of at least two nn.Linear layers (e.g. MLP)")
        self._layers = [(n, m) for n, m in layers]  # type: ignore[misc]
        act = getattr(model, "act", None)
        act_e = Relu() if act is None or isinstance(act, nn.ReLU) else _ModuleActivation(act)
        self._circuit = EIMicrocircuit(act_e=act_e, act_i=SoftReLU(shift=self.inh_shift), inverse=self.inverse,
                                       theta=self.theta, delta=self.delta, dt=self.dt, steps=self.steps)
        n_out = layers[-1][1].out_features
        g = torch.Generator().manual_seed(self.seed)
        for name, m in self._layers[:-1]:
            key = f"B.{name}"
            if key not in self.buffers or self.buffers[key].shape != (n_out, m.out_features):
                self.register_buffer(key, torch.randn(n_out, m.out_features, generator=g) / n_out**0.5)
        for name, m in self._layers:
            self.add_hook(m.register_forward_hook(self._make_hook(name)))

    def _make_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if self.active:
                self._cache[name] = (inputs[0].detach(), output.detach())
        return hook

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        """Forward, then fill ``.grad`` with −Δw of the settled circuits (hidden) and the delta rule (readout)."""
        with torch.enable_grad():
            output = model(x)
            out = output.detach().requires_grad_(True)
            loss = self.loss_fn(out, y)
            e_mean = torch.autograd.grad(loss, out)[0]          # dL/dŷ, includes the 1/batch
        try:
            self._apply(e_mean, x.shape[0])
        finally:
            self._cache.clear()
        return StepReport(loss=loss, output=output, metrics=dict(self._last))

    @torch.no_grad()
    def _apply(self, e_mean: torch.Tensor, batch: int) -> None:
        assert self._circuit is not None
        c = self._circuit
        name, last = self._layers[-1]
        h, _ = self._cache[name]
        last.weight.grad = e_mean.t() @ h
        if last.bias is not None:
            last.bias.grad = e_mean.sum(0)
        e = e_mean * batch                                         # per-sample error
        ltp, tops = [], []
        for name, m in self._layers[:-1]:
            pre, a = self._cache[name]
            b = self.buffers[f"B.{name}"]
            t = -self.gain * (e @ b)                              # top-down input onto the interneurons
            u0 = (a, c.w_ei * c.act_e(a))
            u_e, u_i = c.settle(c.balanced_drive(a), topdown=t, u0=u0)
            post = c.plasticity(u_e, u_i)                          # Δw = pre · post
            m.weight.grad = -(post.t() @ pre) / batch
            if m.bias is not None:
                m.bias.grad = -post.mean(0)
            ltp.append(float((post > 0).float().mean()))
            tops.append(float(t.pow(2).mean().sqrt()))
        self._last = {"ltp_fraction": sum(ltp) / len(ltp), "topdown_rms": sum(tops) / len(tops)}
