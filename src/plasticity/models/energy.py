"""Layered energy-based (Hopfield-like) networks relaxed to a fixed point, the substrate of equilibrium propagation.

States ``s_l`` (post-activation) of the hidden layers follow the discrete fixed-point dynamics
``s <- rho(G(x, s) - beta * dC/ds + sigma * xi)`` (Laborieux & Zenke, holomorphic EP, NeurIPS 2022, eq. 2;
generalized EP, ICLR 2024). ``G`` is the synaptic drive; with symmetric feedback it is ``dPhi/ds`` for the
primitive ``Phi(x, s) = sum_l s_l . (W_l s_{l-1} + b_l)``, so the fixed point is a stationary point of an energy.
The readout ``z = W_out s_L + b_out`` enters the dynamics only through the nudge ``beta * C(z, y)``.
Every map is holomorphic (matmuls, logistic, exp/log), so the same code relaxes complex states for hEP's
complex nudges. ``forward(x)`` relaxes T1 free steps from zero and returns the logits, so backprop through
``forward`` is BPTT on the same network.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_choice, check_range

State = list[torch.Tensor]


def _sigmoid(z: torch.Tensor) -> torch.Tensor:
    """Logistic function; the stable real kernel for real inputs, the holomorphic formula for complex ones."""
    if not z.is_complex():
        return torch.sigmoid(z)
    pos = z.real >= 0
    e = torch.exp(torch.where(pos, -z, z))  # |e| <= 1: no overflow on either side
    return torch.where(pos, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid4(z: torch.Tensor) -> torch.Tensor:
    """hEP's ``my_sigmoid(a=-4, b=2)``: 1 / (1 + exp(-4z + 2)), slope at most 1."""
    return _sigmoid(4.0 * z - 2.0)


def _holotanh(z: torch.Tensor) -> torch.Tensor:
    """hEP's holomorphic hard-tanh surrogate (``my_holotanh``, a=1): ~0 below 0, ~z/2 in [0, 2], ~1 above 2."""
    return 0.5 * z * _sigmoid(z) + (1.0 - 0.5 * z) * _sigmoid(z - 2.0)


ENERGY_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid4": _sigmoid4,
    "holotanh": _holotanh,
    "sigmoid": _sigmoid,
    "tanh": torch.tanh,
    "identity": lambda z: z,
}
FEEDBACK = ("symmetric", "independent")
UPDATES = ("alternate", "sync")
OUTPUTS = ("static", "dynamic")


def holo_cost(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample cost C(z, y) and dC/dz, holomorphic in the logits ``z``.

    Integer labels: cross-entropy ``logsumexp(z) - z_y`` (error softmax(z) - onehot); float targets:
    ``0.5 * ||z - y||^2`` (error z - y). The log-sum-exp shift uses the real part only, so it stays holomorphic.
    """
    if torch.is_floating_point(y) or torch.is_complex(y):
        if y.dim() == 1 and z.shape[1] == 1:
            y = y.unsqueeze(1)
        if y.shape != z.shape:
            raise ConfigError(f"targets of shape {tuple(y.shape)} do not match outputs {tuple(z.shape)}")
        err = z - y.to(z.dtype)
        return 0.5 * (err * err).sum(1), err
    if y.dim() != 1 or y.shape[0] != z.shape[0]:
        raise ConfigError(f"labels of shape {tuple(y.shape)} do not match outputs {tuple(z.shape)}")
    shift = z.real.amax(1, keepdim=True).detach()
    e = torch.exp(z - shift)
    tot = e.sum(1, keepdim=True)
    onehot = F.one_hot(y, z.shape[1]).to(z.dtype)
    cost = (shift + torch.log(tot)).squeeze(1) - (z * onehot).sum(1)
    return cost, e / tot - onehot


class EnergyNet(nn.Module):
    """Base class: relaxation, nudging, noise and the energy; subclasses define drive, primitive and readout.

    ``T1``/``T2``: free/nudged relaxation steps; ``sigma``: std of Gaussian state noise added to the
    pre-activations at every step while the module is in training mode (hEP's noise table); ``update``:
    'alternate' (even then odd layers per step) or 'sync' (all layers at once, as in the hEP code).
    """

    symmetric: bool = True

    @torch.no_grad()
    def _scale_init(self, gain: float) -> None:
        """Multiply every weight matrix/kernel (not biases) by ``gain`` after PyTorch's default init."""
        if gain != 1.0:
            for p in self.parameters():
                if p.dim() > 1:
                    p.mul_(float(gain))

    def __init__(self, activation: str = "sigmoid4", T1: int = 30, T2: int = 10, sigma: float = 0.0,
                 update: str = "alternate") -> None:
        super().__init__()
        self.update = check_choice("update", update, UPDATES)
        self.activation = check_choice("activation", activation, ENERGY_ACTIVATIONS)
        self.rho = ENERGY_ACTIVATIONS[activation]
        self.T1 = int(check_range("T1", T1, 1))
        self.T2 = int(check_range("T2", T2, 1))
        self.sigma = float(check_range("sigma", sigma, 0.0))

    # -- to be defined by subclasses -----------------------------------------------------------------
    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def init_state(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> State:
        raise NotImplementedError

    def drive(self, x: torch.Tensor, s: State) -> State:
        """Synaptic input G_l(x, s) of every dynamic layer (pre-activation, no nudge)."""
        raise NotImplementedError

    def logits(self, s: State) -> torch.Tensor:
        raise NotImplementedError

    def primitive(self, x: torch.Tensor, s: State) -> torch.Tensor:
        """Per-sample Phi(x, s) with dPhi/ds = drive (symmetric networks only)."""
        raise NotImplementedError

    # -- shared machinery ----------------------------------------------------------------------------
    def _w(self, t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
        return None if t is None else t.to(dtype)

    def cost(self, s: State, y: torch.Tensor) -> torch.Tensor:
        """Per-sample cost of the readout of state ``s``."""
        return holo_cost(self.logits(s), y)[0]

    def nudge(self, s: State, y: torch.Tensor) -> State:
        """dC/ds for every layer (autograd-free where the readout only sees the last layer)."""
        with torch.enable_grad():
            last = s[-1].detach().requires_grad_(True)
            c = self.cost([*s[:-1], last], y).sum()
            (g,) = torch.autograd.grad(c, last, grad_outputs=torch.ones_like(c))
        g = g.conj() if g.is_complex() else g  # autograd returns conj of the holomorphic derivative
        return [torch.zeros_like(t) for t in s[:-1]] + [g]

    def _update(self, x: torch.Tensor, s: State, y: torch.Tensor | None, beta: complex | float | torch.Tensor,
                noise: float, which: range) -> State:
        a = self.drive(x, s)
        nudged = isinstance(beta, torch.Tensor) or beta != 0
        if nudged:
            if y is None:
                raise ConfigError("a nudged step (beta != 0) needs the targets y")
            g = self.nudge(s, y)
        new = list(s)
        for i in which:
            ai = a[i] - beta * g[i] if nudged else a[i]
            if noise > 0:
                ai = ai + noise * torch.randn(ai.shape, device=ai.device)
            new[i] = self.rho(ai)
        return new

    def step_state(self, x: torch.Tensor, s: State, y: torch.Tensor | None = None,
                   beta: complex | float | torch.Tensor = 0.0, noise: float = 0.0) -> State:
        """One update ``s <- rho(G(x, s) - beta dC/ds + noise xi)``: all layers at once (``update='sync'``) or
        even then odd layers (``'alternate'``, block Gauss-Seidel: same fixed points, no period-2 oscillation)."""
        n = len(s)
        if self.update == "sync":
            return self._update(x, s, y, beta, noise, range(n))
        s = self._update(x, s, y, beta, noise, range(0, n, 2))
        return self._update(x, s, y, beta, noise, range(1, n, 2)) if n > 1 else s

    def relax(self, x: torch.Tensor, y: torch.Tensor | None = None, beta: complex | float = 0.0,
              steps: int | None = None, s0: State | None = None, noise: float | None = None) -> State:
        """Iterate ``step_state`` ``steps`` times (default T1) from ``s0`` (default zeros).

        A complex ``beta`` makes the states complex. ``noise`` defaults to ``sigma`` in training mode, 0 in eval.
        Gradients flow through the iterations when grad mode is on (that is BPTT).
        """
        x = self.prepare_input(x)
        complex_run = isinstance(beta, complex) or (s0 is not None and s0[0].is_complex())
        dtype = (torch.complex64 if x.dtype != torch.float64 else torch.complex128) if complex_run else x.dtype
        xs = x.to(dtype)
        s = self.init_state(x, dtype) if s0 is None else [t.to(dtype) for t in s0]
        if noise is None:
            noise = self.sigma if self.training else 0.0
        for _ in range(self.T1 if steps is None else int(steps)):
            s = self.step_state(xs, s, y, beta, noise)
        return s

    def energy(self, x: torch.Tensor, s: State, y: torch.Tensor | None = None,
               beta: complex | float = 0.0) -> torch.Tensor:
        """Per-sample total energy ``E = -Phi(x, s) + beta C(s, y)`` (its parameter gradient is EP's contrast)."""
        if not self.symmetric:
            raise ConfigError("energy() needs symmetric feedback; this network has feedback='independent'")
        x = self.prepare_input(x).to(s[0].dtype)
        e = -self.primitive(x, s)
        if beta != 0:
            if y is None:
                raise ConfigError("a nudged energy (beta != 0) needs the targets y")
            e = e + beta * self.cost(s, y)
        return e

    def residual(self, x: torch.Tensor, s: State) -> torch.Tensor:
        """Per-sample distance ``||rho(G(s)) - s||`` of a free state from a fixed point (convergence check)."""
        xs = self.prepare_input(x).to(s[0].dtype)
        new = self.step_state(xs, s, noise=0.0)
        return torch.sqrt(sum((n - o).abs().pow(2).flatten(1).sum(1) for n, o in zip(new, s, strict=True)))

    def jacobian_vector(self, x: torch.Tensor, s: State, v: State) -> State:
        """``J v`` with ``J = dG/ds`` at state ``s`` (forward-mode AD; differentiable w.r.t. the parameters)."""
        xs = self.prepare_input(x).to(s[0].dtype)
        _, jv = torch.func.jvp(lambda *st: tuple(self.drive(xs, list(st))), tuple(s), tuple(v))
        return list(jv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.relax(x))


class EnergyMLP(EnergyNet):
    """Fully connected energy net ``sizes[0] -> hidden... -> sizes[-1]``: hidden layers relax, the last size is
    a softmax (or linear, for float targets) readout.

    ``feedback='symmetric'`` uses W_l^T top-down (a Hopfield energy); ``'independent'`` adds separate learnable
    top-down matrices ``self.feedback[l]`` (s_{l+1} -> layer l), the non-symmetric networks of generalized EP.
    ``init_gain`` multiplies PyTorch's default initialisation of every weight.

    ``output='static'`` (default): the readout ``W_out s_L + b`` is not a state; its nudge ``W_out^T dC/dz`` enters
    the last hidden layer. ``output='dynamic'`` (generalized hEP code, ``mlp_discrete_vf``): the output is one more
    state layer ``s_o = rho(W_o s_L + b_o)`` of ``sizes[-1]`` units, fed back to s_L by W_o^T or its own matrix,
    read by a separate linear softmax readout ``z = R s_o + c`` (``self.readout``, square); the nudge
    ``-beta R^T dC/dz`` enters the output layer's pre-activation only.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid4", feedback: str = "symmetric",
                 T1: int = 30, T2: int = 10, sigma: float = 0.0, bias: bool = True, init_gain: float = 1.0,
                 update: str = "alternate", output: str = "static") -> None:
        super().__init__(activation, T1, T2, sigma, update)
        sizes = [int(s) for s in sizes]
        if len(sizes) < 3 or any(s < 1 for s in sizes):
            raise ConfigError(f"sizes={sizes!r} is invalid; allowed: input, at least one hidden width, output widths")
        self.sizes = sizes
        self.feedback_kind = check_choice("feedback", feedback, FEEDBACK)
        self.output = check_choice("output", output, OUTPUTS)
        self.symmetric = feedback == "symmetric"
        dynamic = output == "dynamic"
        self.state_sizes = sizes[1:] if dynamic else sizes[1:-1]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias)
                                    for a, b in itertools.pairwise(sizes if dynamic else sizes[:-1]))
        self.readout = nn.Linear(sizes[-1] if dynamic else sizes[-2], sizes[-1], bias=bias)
        self.feedback = nn.ModuleList(
            nn.Linear(b, a, bias=False) for a, b in itertools.pairwise(self.state_sizes)) if not self.symmetric else None
        self._scale_init(init_gain)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.sizes[0]:
            raise ConfigError(f"input has {x.shape[1]} features but the EnergyMLP expects sizes[0]={self.sizes[0]}")
        return x

    def init_state(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> State:
        return [torch.zeros(x.shape[0], n, device=x.device, dtype=dtype or x.dtype) for n in self.state_sizes]

    def _top_down(self, l: int, s_above: torch.Tensor) -> torch.Tensor:
        """Input to hidden layer ``l`` from layer ``l + 1``: W_{l+1}^T s (symmetric) or B_l s (independent)."""
        if self.symmetric:
            return s_above @ self.layers[l + 1].weight.to(s_above.dtype)
        return s_above @ self.feedback[l].weight.to(s_above.dtype).t()

    def drive(self, x: torch.Tensor, s: State) -> State:
        dt = s[0].dtype
        below = [x, *s[:-1]]
        out = []
        for l, layer in enumerate(self.layers):
            a = F.linear(below[l], layer.weight.to(dt), self._w(layer.bias, dt))
            if l + 1 < len(s):
                a = a + self._top_down(l, s[l + 1])
            out.append(a)
        return out

    def jacobian_vector(self, x: torch.Tensor, s: State, v: State) -> State:
        """``J v`` for ``J = dG/ds`` (state-independent here: the interaction matrices themselves)."""
        out = []
        for l in range(len(v)):
            a = v[l - 1] @ self.layers[l].weight.to(v[0].dtype).t() if l > 0 else torch.zeros_like(v[0])
            if l + 1 < len(v):
                a = a + self._top_down(l, v[l + 1])
            out.append(a)
        return out

    def logits(self, s: State) -> torch.Tensor:
        dt = s[-1].dtype
        return F.linear(s[-1], self.readout.weight.to(dt), self._w(self.readout.bias, dt))

    def nudge(self, s: State, y: torch.Tensor) -> State:
        _, err = holo_cost(self.logits(s), y)
        return [torch.zeros_like(t) for t in s[:-1]] + [err @ self.readout.weight.to(err.dtype)]

    def primitive(self, x: torch.Tensor, s: State) -> torch.Tensor:
        if not self.symmetric:
            raise ConfigError("primitive() needs symmetric feedback; this network has feedback='independent'")
        dt = s[0].dtype
        below = [x, *s[:-1]]
        return sum((s[l] * F.linear(below[l], layer.weight.to(dt), self._w(layer.bias, dt))).sum(1)
                   for l, layer in enumerate(self.layers))


class EnergyConvNet(EnergyNet):
    """Convolutional energy net (symmetric): ``s_l = rho(P(conv_l(s_{l-1})) + top-down)``, then a linear readout.

    P is 2x2 average pooling (linear, hence holomorphic; hEP's CNN uses a softmax pooling instead). The primitive
    is ``Phi = sum_l s_l . P(conv_l(s_{l-1}))``; the drive is its holomorphic gradient (bottom-up conv + pool, top-down
    upsample + transposed conv).
    """

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), channels: Sequence[int] = (32, 64),
                 n_classes: int = 10, activation: str = "sigmoid4", T1: int = 30, T2: int = 10,
                 sigma: float = 0.0, kernel_size: int = 3, init_gain: float = 1.0, update: str = "alternate") -> None:
        super().__init__(activation, T1, T2, sigma, update)
        c, h, w = (int(v) for v in input_shape)
        self.input_shape = (c, h, w)
        convs, shapes = [], []
        for out_c in channels:
            if h < 2 or w < 2:
                raise ConfigError(f"channels={list(channels)!r}: too many pooling stages for input {tuple(input_shape)}")
            convs.append(nn.Conv2d(c, int(out_c), kernel_size, padding=kernel_size // 2))
            c, h, w = int(out_c), h // 2, w // 2
            shapes.append((c, h, w))
        self.convs = nn.ModuleList(convs)
        self.shapes = shapes
        self.readout = nn.Linear(c * h * w, int(n_classes))
        self._scale_init(init_gain)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.input_shape) if x.dim() == 2 else x
        if tuple(x.shape[1:]) != self.input_shape:
            raise ConfigError(f"input shape {tuple(x.shape[1:])} does not match input_shape={self.input_shape}")
        return x

    def init_state(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> State:
        return [torch.zeros(x.shape[0], *sh, device=x.device, dtype=dtype or x.dtype) for sh in self.shapes]

    def _ff(self, l: int, inp: torch.Tensor) -> torch.Tensor:
        conv = self.convs[l]
        dt = inp.dtype
        return F.avg_pool2d(F.conv2d(inp, conv.weight.to(dt), self._w(conv.bias, dt), padding=conv.padding), 2) \
            if not inp.is_complex() else _avg_pool_complex(
                F.conv2d(inp, conv.weight.to(dt), self._w(conv.bias, dt), padding=conv.padding))

    def primitive(self, x: torch.Tensor, s: State) -> torch.Tensor:
        below = [x, *s[:-1]]
        return sum((s[l] * self._ff(l, below[l])).flatten(1).sum(1) for l in range(len(self.convs)))

    def _ff_adjoint(self, l: int, s_above: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """Adjoint of the linear part of ``_ff(l, .)`` applied to ``s_above``: upsample (P^T) then transposed conv.

        Written out rather than taken by autograd: ``autograd.grad`` of Phi with respect to states that are
        themselves computed from one another (the alternating schedule under BPTT) would add spurious paths.
        """
        conv = self.convs[l]
        up = s_above.repeat_interleave(2, -1).repeat_interleave(2, -2) / 4.0
        h, w = shape[-2], shape[-1]
        up = F.pad(up, (0, w - up.shape[-1], 0, h - up.shape[-2]))  # avg_pool2d drops an odd last row/column
        return F.conv_transpose2d(up, conv.weight.to(up.dtype), padding=conv.padding)

    def drive(self, x: torch.Tensor, s: State) -> State:
        below = [x, *s[:-1]]
        out = []
        for l in range(len(self.convs)):
            a = self._ff(l, below[l])
            if l + 1 < len(s):
                a = a + self._ff_adjoint(l + 1, s[l + 1], s[l].shape)
            out.append(a)
        return out

    def logits(self, s: State) -> torch.Tensor:
        dt = s[-1].dtype
        return F.linear(s[-1].flatten(1), self.readout.weight.to(dt), self._w(self.readout.bias, dt))


def _avg_pool_complex(t: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling for complex tensors (``avg_pool2d`` is real-only): pool real and imaginary parts."""
    return torch.complex(F.avg_pool2d(t.real, 2), F.avg_pool2d(t.imag, 2))


def n_units(s: State) -> int:
    """Number of dynamic units per sample in a state."""
    return sum(math.prod(t.shape[1:]) for t in s)
