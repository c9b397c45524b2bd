"""Dis-inhibitory control of plasticity as a learning rule for rate networks (Rossbroich & Zenke, NeurIPS 2023).

``variant="closed-loop"`` (default) is the paper's mechanism (reference fmi-basel/disinhibitory-control): every
hidden unit is an E-I pair; after the open-loop pass the whole network settles as one dynamical system while a
leaky PI controller feeds the output error back top-down onto the interneurons through the network's Jacobian
(``circuits.disinhibition.ClosedLoopNetwork``). At that controlled rest state each synapse changes by the
Hebbian rule gated by inhibition, ``Δw = pre · (f_E(u_E) − f_I⁻¹(r_I)) f_E'(u_E)`` (exact inverse, or the
paper's ``lin-thresh``/``taylor`` linear readings of inhibition), and the readout by ``pre · c``.
``variant="open-loop"`` is the earlier, non-paper version (see ``_open_loop``). ``.grad`` holds −Δw.
"""

from __future__ import annotations

import torch
from torch import nn

from ..circuits.disinhibition import (
    CL_INVERSES,
    FEEDBACKS,
    INVERSES,
    ClosedLoopNetwork,
    EIMicrocircuit,
    EISteadyState,
    LeakyPI,
    Relu,
    SoftReLU,
)
from ..errors import check_choice, check_range
from .base import LearningRule, StepReport, UnsupportedModelError, plastic_layers, unsupported_weights

VARIANTS = ("closed-loop", "open-loop")


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

    Closed loop (paper): ``k_p, k_i, leak, tau`` the leaky PI controller; ``tau_e, tau_i`` (Dale) or ``tau_rate``
    (non-Dale) the network's time constants in seconds; ``dt``/``t_max``/``tol`` the Euler settling;
    ``inverse`` 'exact' | 'lin-thresh' (Taylor around the batch-mean open-loop inhibitory rate) | 'taylor'
    (around ``taylor_y0``); ``feedback`` 'jacobian' | 'mean-jacobian'; ``fb_norm`` the per-sample Frobenius
    norm of each feedback matrix (0: none); ``soft_target`` the target value of the true class; ``dale`` E-I pairs
    (True) or plain rate units receiving the feedback directly (False). On an ``ei_mlp`` the E-I pairs use its
    transfer functions; on a plain MLP the activation is f_E, f_I is a soft-ReLU, and each E cell's drive is
    balanced so that its open-loop potential is the MLP's pre-activation.

    Open loop (earlier version): ``gain``, ``inverse`` 'exact' | 'linear', ``theta``/``delta``, ``steps``,
    ``settle_dt``, ``inh_shift``.
    """

    name = "disinhibition"

    def __init__(self, loss: str = "auto", seed: int = 0, variant: str = "closed-loop", dale: bool = True,
                 k_p: float = 0.2, k_i: float = 0.4, leak: float = 1.0, tau: float = 0.1, tau_e: float = 20e-3,
                 tau_i: float = 5e-3, tau_rate: float = 10e-3, dt: float = 4e-3, t_max: float = 2.0,
                 tol: float = 1e-3, inverse: str = "exact", feedback: str = "jacobian", fb_norm: float = 1.0,
                 soft_target: float = 0.99, taylor_y0: float = 1.0, gain: float = 1.0, theta: float = 0.0,
                 delta: float = 1.0, steps: int = 30, settle_dt: float = 0.25, inh_shift: float = 3.0) -> None:
        super().__init__(loss=loss, seed=seed)
        self.variant = check_choice("variant", variant, VARIANTS)
        self.dale = bool(dale)
        self.k_p, self.k_i, self.leak, self.tau = float(k_p), float(k_i), float(leak), float(tau)
        if self.variant == "closed-loop":
            self.controller  # noqa: B018 -- validates the gains now (one line naming the key)
            self.inverse = check_choice("inverse", inverse, CL_INVERSES)
        else:
            self.inverse = check_choice("inverse", inverse, INVERSES)
        self.feedback = check_choice("feedback", feedback, FEEDBACKS)
        self.fb_norm = check_range("fb_norm", float(fb_norm), 0.0)
        self.soft_target = check_range("soft_target", float(soft_target), 0.0, 1.0, low_inclusive=False)
        self.taylor_y0 = check_range("taylor_y0", float(taylor_y0), 0.0, low_inclusive=False)
        self.tau_e = check_range("tau_e", float(tau_e), 0.0, low_inclusive=False)
        self.tau_i = check_range("tau_i", float(tau_i), 0.0, low_inclusive=False)
        self.tau_rate = check_range("tau_rate", float(tau_rate), 0.0, low_inclusive=False)
        self.dt = check_range("dt", float(dt), 0.0, low_inclusive=False)
        self.t_max = check_range("t_max", float(t_max), 0.0, low_inclusive=False)
        self.tol = check_range("tol", float(tol), 0.0, low_inclusive=False)
        self.gain = check_range("gain", gain, 0.0, low_inclusive=False)
        self.theta, self.delta = float(theta), float(delta)
        self.steps = int(check_range("steps", steps, 1))
        self.settle_dt = check_range("settle_dt", settle_dt, 0.0, 1.0, low_inclusive=False)
        self.inh_shift = float(inh_shift)
        if self.variant == "closed-loop":          # validates dt against the fastest time constant now
            self._network([(torch.zeros(1, 1), None), (torch.zeros(1, 1), None)], Relu(), SoftReLU(), False)
        self._layers: list[tuple[str, nn.Linear]] = []
        self._act_e: object = Relu()
        self._act_i: object = SoftReLU(shift=0.0)
        self._balanced = True
        self._forward_act: object = nn.ReLU()
        self._circuit: EIMicrocircuit | None = None
        self._last: dict[str, float] = {}

    @property
    def controller(self) -> LeakyPI:
        """The leaky PI controller built from ``k_p, k_i, leak, tau`` (validated: gains > 0)."""
        return LeakyPI(k_p=self.k_p, k_i=self.k_i, leak=self.leak, tau=self.tau)

    # -- set-up ----------------------------------------------------------------------------------------------
    def _prepare(self, model: nn.Module) -> None:
        bad = unsupported_weights(model)
        if bad:
            raise UnsupportedModelError(f"the disinhibition rule cannot act on {', '.join(bad)}; "
                                        "it needs a model of nn.Linear layers (e.g. MLP)")
        layers = plastic_layers(model)
        if len(layers) < 2 or not all(isinstance(m, nn.Linear) for _, m in layers):
            raise UnsupportedModelError("the disinhibition rule needs a model of at least two nn.Linear layers "
                                        "(e.g. MLP)")
        self._layers = [(n, m) for n, m in layers]  # type: ignore[misc]
        act = getattr(model, "act", None)
        self._forward_act = act if act is not None else nn.ReLU()
        if isinstance(act, EISteadyState):
            self._act_e, self._act_i, self._balanced = act.act_e, act.act_i, False
        else:
            self._act_e = Relu() if act is None or isinstance(act, nn.ReLU) else _ModuleActivation(act)
            self._act_i = SoftReLU(shift=0.0 if self.variant == "closed-loop" else self.inh_shift)
            self._balanced = True
        if self.variant == "open-loop":
            self._prepare_open_loop()

    def _network(self, params: list, act_e: object, act_i: object, balanced: bool) -> ClosedLoopNetwork:
        return ClosedLoopNetwork(params, act_e, act_i, controller=self.controller, dale=self.dale,
                                 balanced=balanced, tau_e=self.tau_e, tau_i=self.tau_i, tau=self.tau_rate,
                                 dt=self.dt, t_max=self.t_max, tol=self.tol)

    # -- the step --------------------------------------------------------------------------------------------
    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        """Open-loop pass (the model's output), then fill ``.grad`` with −Δw of this variant."""
        with torch.no_grad():
            output = model(x)
        loss = self.loss_fn(output, y)
        if self.variant == "closed-loop":
            self._closed_loop(x.flatten(1), y, output)
        else:
            self._open_loop(x.flatten(1), y, output)
        return StepReport(loss=loss.detach(), output=output.detach(), metrics=dict(self._last))

    def _targets(self, y: torch.Tensor, output: torch.Tensor) -> tuple[torch.Tensor, str]:
        kind = self.loss if self.loss != "auto" else ("cross_entropy" if not torch.is_floating_point(y) else "mse")
        if kind == "cross_entropy":
            k = output.shape[1]
            off = (1.0 - self.soft_target) / (k - 1) if k > 1 else 0.0
            t = torch.nn.functional.one_hot(y.long(), k).to(output) * (self.soft_target - off) + off
            return t, kind
        return y.reshape(output.shape).to(output), kind

    @torch.no_grad()
    def _closed_loop(self, x: torch.Tensor, y: torch.Tensor, output: torch.Tensor) -> None:
        params = [(m.weight.detach(), None if m.bias is None else m.bias.detach()) for _, m in self._layers]
        net = self._network(params, self._act_e, self._act_i, self._balanced)
        target, kind = self._targets(y, output)
        ol = net.open_loop(x)
        fb = net.feedback_weights(ol, self.feedback, self.fb_norm)
        cl = net.settle(x, target, fb, ol, kind)
        y0: list[torch.Tensor] | float | None = None
        if self.inverse == "lin-thresh":           # reference AvgInhTaylorApproxTrainer, avg_inh_lambda = 1
            y0 = [self._act_i(u).mean(0, keepdim=True).expand_as(u) for u in ol.u_i]
        elif self.inverse == "taylor":
            y0 = self.taylor_y0
        errors = net.hidden_errors(x, cl, self.inverse, y0)
        for (_, m), (dw, db) in zip(self._layers, net.gradients(x, cl, errors), strict=True):
            m.weight.grad = dw
            if m.bias is not None:
                m.bias.grad = db
        e_ol = net.error(ol.y, target, kind)
        e_cl = net.error(cl.y, target, kind)
        self._last = {
            "settle_steps": float(cl.steps), "settle_residual": float(cl.residual),
            "error_reduction": float(e_cl.norm() / e_ol.norm().clamp_min(1e-12)),
            "ltp_fraction": float(sum(float((-e > 0).float().mean()) for e in errors) / len(errors)),
        }

    # -- the earlier open-loop variant -----------------------------------------------------------------------
    def _prepare_open_loop(self) -> None:
        self._circuit = EIMicrocircuit(act_e=self._act_e, act_i=self._act_i, inverse=self.inverse,
                                       theta=self.theta, delta=self.delta, dt=self.settle_dt, steps=self.steps)
        n_out = self._layers[-1][1].out_features
        g = torch.Generator().manual_seed(self.seed)
        for name, m in self._layers[:-1]:
            key = f"B.{name}"
            if key not in self.buffers or self.buffers[key].shape != (n_out, m.out_features):
                self.register_buffer(key, torch.randn(n_out, m.out_features, generator=g) / n_out**0.5)

    @torch.no_grad()
    def _open_loop(self, x: torch.Tensor, y: torch.Tensor, output: torch.Tensor) -> None:
        """Earlier, non-paper variant: DFA routed through E-I pairs. The open-loop output error e = dL/dŷ goes
        through fixed random matrices B_l (no controller, no Jacobian, no closed loop) as ``t_l = −gain · e B_l``
        onto the interneurons; each E-I pair then settles on its own, layer by layer, and the same Hebbian
        rule reads the settled bracket (≈ t_l, so the update is DFA's); the readout learns by the delta rule."""
        assert self._circuit is not None
        c = self._circuit
        with torch.enable_grad():
            out = output.detach().requires_grad_(True)
            e_mean = torch.autograd.grad(self.loss_fn(out, y), out)[0]          # dL/dŷ, includes the 1/batch
        batch = x.shape[0]
        h, pres, acts = x, [], []
        for _, m in self._layers:
            a = m(h)
            pres.append(h)
            acts.append(a)
            h = self._forward_act(a)
        last = self._layers[-1][1]
        last.weight.grad = e_mean.t() @ pres[-1]
        if last.bias is not None:
            last.bias.grad = e_mean.sum(0)
        e = e_mean * batch                                                       # per-sample error
        ltp, tops = [], []
        for (name, m), pre, a in zip(self._layers[:-1], pres, acts, strict=False):
            b = self.buffers[f"B.{name}"]
            if b.device != a.device or b.dtype != a.dtype:
                b = self.buffers[f"B.{name}"] = b.to(a)
            t = -self.gain * (e @ b)                                             # top-down input onto the interneurons
            u0 = (a, c.w_ei * c.act_e(a))
            u_e, u_i = c.settle(c.balanced_drive(a), topdown=t, u0=u0)
            post = c.plasticity(u_e, u_i)                                        # Δw = pre · post
            m.weight.grad = -(post.t() @ pre) / batch
            if m.bias is not None:
                m.bias.grad = -post.mean(0)
            ltp.append(float((post > 0).float().mean()))
            tops.append(float(t.pow(2).mean().sqrt()))
        self._last = {"ltp_fraction": sum(ltp) / len(ltp), "topdown_rms": sum(tops) / len(tops)}
