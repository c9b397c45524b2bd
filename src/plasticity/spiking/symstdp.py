"""Supervised learning with symmetric STDP (Hao, Huang, Feng & Wang 2020, Neural Networks 121; arXiv 1812.06574).

Network (``SymSTDPNet``): Poisson input -> excitatory LIF layer with a dynamic threshold and lateral
inhibition (winner-take-all) -> output LIF layer, one neuron per class. Rule (``SymmetricSTDP``): the
dopamine-modulated *symmetric* STDP window potentiates a synapse for pre/post spike pairs in either order,
    dw_ij = eta * (sum_t z_i(t) x_j(t) + sum_t x_i(t) z_j(t)),   x = exponential spike traces (tau_stdp),
followed by synaptic scaling (each neuron's incoming weights rescaled to a fixed sum) which turns the
pure potentiation into competition. A teacher current drives the label neuron of the output layer during
training; the excitatory layer learns without labels. The dynamic threshold (intrinsic plasticity)
theta += theta_plus per spike is a model buffer the rule updates.

The rule writes ``w - w_target`` into ``.grad``, so ``torch.optim.SGD(lr=1)`` applies the paper's update
exactly and any other optimizer or geometry sees the same direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import check_range
from ..rules.base import LearningRule, StepReport, UnsupportedModelError
from .encoders import poisson_encode
from .metrics import exp_filter
from .neurons import LIFParameters, check_lif_parameters, lif_initial_state, lif_step


@dataclass
class SymSTDPRun:
    """Spike sequences of one simulated batch (time first)."""

    s_in: torch.Tensor
    s_exc: torch.Tensor
    s_out: torch.Tensor
    out_drive: torch.Tensor


class SymSTDPNet(nn.Module):
    """Input -> excitatory (dynamic threshold, lateral inhibition) -> output; ``forward`` = class scores.

    Scores are output spike counts; ties (e.g. silent outputs) are broken by the summed synaptic drive.
    Weights are non-negative and each neuron's incoming weights sum to ``norm_exc`` (default ``0.1 * n_in``,
    as in Diehl & Cook's 78 for 784 pixels) / ``norm_out``.
    """

    def __init__(self, n_in: int, n_exc: int = 400, n_out: int = 10, n_steps: int = 100, dt: float = 1.0,
                 max_rate: float = 200.0, norm_exc: float | None = None, norm_out: float = 4.0, w_inh: float = 3.0,
                 w_inh_out: float = 1.0, theta_plus: float = 0.02, tau_theta: float = 1e7, tau_mem: float = 20.0,
                 tau_syn: float = 5.0, t_ref: float = 2.0, seed: int = 0) -> None:
        super().__init__()
        self.n_in, self.n_exc = int(check_range("n_in", n_in, 1)), int(check_range("n_exc", n_exc, 1))
        self.n_out = int(check_range("n_out", n_out, 1))
        self.n_steps = int(check_range("n_steps", n_steps, 1))
        self.max_rate = float(check_range("max_rate", max_rate, 0.0))
        self.norm_exc = float(check_range("norm_exc", 0.1 * self.n_in if norm_exc is None else norm_exc, 0.0,
                                          low_inclusive=False))
        self.norm_out = float(check_range("norm_out", norm_out, 0.0, low_inclusive=False))
        self.w_inh, self.w_inh_out = float(w_inh), float(w_inh_out)
        self.p_exc = check_lif_parameters(LIFParameters(dt=dt, tau_mem=tau_mem, tau_syn=tau_syn, t_ref=t_ref,
                                                        theta_plus=theta_plus, tau_theta=tau_theta))
        self.p_out = check_lif_parameters(LIFParameters(dt=dt, tau_mem=tau_mem, tau_syn=tau_syn, t_ref=t_ref))
        self.fc1 = nn.Linear(self.n_in, self.n_exc, bias=False)
        self.fc2 = nn.Linear(self.n_exc, self.n_out, bias=False)
        g = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            self.fc1.weight.copy_(torch.rand(self.n_exc, self.n_in, generator=g))
            self.fc2.weight.copy_(torch.rand(self.n_out, self.n_exc, generator=g))
            synaptic_scaling(self.fc1.weight, self.norm_exc)
            synaptic_scaling(self.fc2.weight, self.norm_out)
        self.register_buffer("theta", torch.zeros(self.n_exc))
        self.generator: torch.Generator | None = None

    def simulate(self, x: torch.Tensor, teacher: torch.Tensor | None = None, adapt: bool = False) -> SymSTDPRun:
        """Run one presentation of images ``x`` ([B, ...] in [0, 1]); ``teacher`` [B, n_out] is an extra
        current into the output layer; ``adapt`` lets the threshold grow within the presentation."""
        xf = x.flatten(1)
        s_in = poisson_encode(xf, self.n_steps, self.max_rate, self.p_exc.dt, self.generator)
        cur_in = s_in @ self.fc1.weight.t()
        pe = self.p_exc if adapt else self.p_exc._replace(theta_plus=0.0)
        st_e = lif_initial_state((xf.shape[0], self.n_exc), pe, xf, theta=self.theta)
        st_o = lif_initial_state((xf.shape[0], self.n_out), self.p_out, xf)
        z_e = torch.zeros_like(st_e.v)
        z_o = torch.zeros_like(st_o.v)
        ze_all, zo_all = [], []
        drive = torch.zeros_like(st_o.v)
        w2 = self.fc2.weight
        for t in range(self.n_steps):
            inh = self.w_inh * (z_e.sum(1, keepdim=True) - z_e)
            z_e, st_e = lif_step(cur_in[t] - inh, st_e, pe)
            d = z_e @ w2.t()
            drive = drive + d
            inh_o = self.w_inh_out * (z_o.sum(1, keepdim=True) - z_o)
            inp_o = d - inh_o if teacher is None else d - inh_o + teacher
            z_o, st_o = lif_step(inp_o, st_o, self.p_out)
            ze_all.append(z_e)
            zo_all.append(z_o)
        return SymSTDPRun(s_in, torch.stack(ze_all), torch.stack(zo_all), drive)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        run = self.simulate(x)
        drive = run.out_drive / run.out_drive.sum(1, keepdim=True).clamp(min=1e-12)
        return run.s_out.sum(0) + 1e-3 * drive


def synaptic_scaling(w: torch.Tensor, total: float) -> torch.Tensor:
    """In place: rescale each row (a neuron's incoming weights) to sum to ``total``."""
    w.mul_(total / w.sum(1, keepdim=True).clamp(min=1e-12))
    return w


def symmetric_stdp(pre: torch.Tensor, post: torch.Tensor, tau: float, dt: float) -> torch.Tensor:
    """Symmetric STDP summed over time and batch: sum_t post(t) x_pre(t)^T + x_post(t) pre(t)^T, shape [n_post, n_pre]."""
    x_pre, x_post = exp_filter(pre, tau, dt), exp_filter(post, tau, dt)
    t, b = pre.shape[:2]
    return (post.reshape(t * b, -1).t() @ x_pre.reshape(t * b, -1)
            + x_post.reshape(t * b, -1).t() @ pre.reshape(t * b, -1))


class SymmetricSTDP(LearningRule):
    """Hao et al.'s sym-STDP with synaptic scaling, dynamic threshold and a teacher current on the outputs."""

    name = "sym-stdp"
    substrate = "symstdp"

    def __init__(self, eta_exc: float = 0.002, eta_out: float = 0.002, tau_stdp: float = 20.0,
                 teacher_current: float = 0.5, w_max: float = 1.0, seed: int = 0) -> None:
        super().__init__(loss="cross_entropy", seed=seed)
        self.eta_exc = check_range("eta_exc", eta_exc, 0.0)
        self.eta_out = check_range("eta_out", eta_out, 0.0)
        self.tau_stdp = check_range("tau_stdp", tau_stdp, 0.0, low_inclusive=False)
        self.teacher_current = check_range("teacher_current", teacher_current, 0.0)
        self.w_max = check_range("w_max", w_max, 0.0, low_inclusive=False)

    def _prepare(self, model: nn.Module) -> None:
        if not isinstance(model, SymSTDPNet):
            raise UnsupportedModelError(f"SymmetricSTDP acts on a SymSTDPNet; got {type(model).__name__}")

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        assert isinstance(model, SymSTDPNet)
        teacher = self.teacher_current * nn.functional.one_hot(y, model.n_out).to(x.dtype)
        with torch.no_grad():
            run = model.simulate(x, teacher=teacher, adapt=True)
            dt = model.p_exc.dt
            updates = ((model.fc1.weight, symmetric_stdp(run.s_in, run.s_exc, self.tau_stdp, dt), self.eta_exc,
                        model.norm_exc),
                       (model.fc2.weight, symmetric_stdp(run.s_exc, run.s_out, self.tau_stdp, dt), self.eta_out,
                        model.norm_out))
            for w, dw, eta, norm in updates:
                target = (w + eta * dw).clamp_(0.0, self.w_max)
                synaptic_scaling(target, norm)
                w.grad = w - target
            counts = run.s_exc.sum(0)
            model.theta.add_(model.p_exc.theta_plus * counts.sum(0))
            out = run.s_out.sum(0)
            loss = nn.functional.cross_entropy(out, y)
        return StepReport(loss=loss, output=out, metrics={
            "exc_spikes_per_sample": float(counts.sum(1).mean()),
            "out_spikes_per_sample": float(out.sum(1).mean()),
            "theta_mean": float(model.theta.mean())})
