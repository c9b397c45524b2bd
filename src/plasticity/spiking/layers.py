"""Thin ``nn.Module`` wrappers over the functional LIF step: a cell, feedforward and recurrent layers that
run a whole spike sequence ``[T, B, n_in]`` (one loop over time; the input projection is one matmul over
all steps), a leaky-integrator readout, and ``SpikingMLP`` for surrogate-gradient classification."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError, check_choice, check_range
from .encoders import ENCODERS, encode
from .neurons import LIFParameters, LIFState, check_lif_parameters, li_step, lif_initial_state, lif_step


def check_sequence(name: str, x: torch.Tensor, n_features: int | None = None) -> torch.Tensor:
    """``x`` must be a ``[T, B, N]`` tensor (with ``N == n_features`` when given)."""
    if x.dim() != 3:
        raise ConfigError(f"{name} must be a [time, batch, neurons] tensor; got shape {tuple(x.shape)}")
    if n_features is not None and x.shape[2] != n_features:
        raise ConfigError(f"{name} has {x.shape[2]} neurons per step; expected {n_features}")
    return x


def run_lif(cur: torch.Tensor, p: LIFParameters, w_rec: torch.Tensor | None = None, record: bool = False,
            ) -> tuple[torch.Tensor, torch.Tensor | None, LIFState]:
    """Simulate LIF neurons driven by input currents ``cur [T, B, N]`` (one loop over time), optionally with
    recurrent weights ``w_rec [N, N]`` acting on the previous step's spikes; returns spikes, the membrane
    trace (``record`` only, else None) and the final state."""
    state = lif_initial_state(cur.shape[1:], p, cur)
    z = torch.zeros_like(cur[0])
    out, vs = [], []
    for t in range(cur.shape[0]):
        drive = cur[t] if w_rec is None else cur[t] + z @ w_rec.t()
        z, state = lif_step(drive, state, p)
        out.append(z)
        if record:
            vs.append(state.v)
    return torch.stack(out), (torch.stack(vs) if record else None), state


class LIFCell(nn.Module):
    """A population of LIF neurons; ``forward(x_t, state) -> (spikes, state)`` (state None = rest)."""

    def __init__(self, n: int, p: LIFParameters | None = None) -> None:
        super().__init__()
        self.n = int(check_range("n", n, 1))
        self.p = check_lif_parameters(p or LIFParameters())

    def forward(self, x: torch.Tensor, state: LIFState | None = None) -> tuple[torch.Tensor, LIFState]:
        if state is None:
            state = lif_initial_state(x.shape, self.p, x)
        return lif_step(x, state, self.p)


class LIFLayer(nn.Module):
    """Feedforward LIF layer: ``fc`` (``nn.Linear``) then LIF; ``forward([T,B,n_in]) -> spikes [T,B,n_out]``."""

    def __init__(self, n_in: int, n_out: int, p: LIFParameters | None = None, bias: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n_out, bias=bias)
        self.p = check_lif_parameters(p or LIFParameters())
        self.state: LIFState | None = None

    def forward(self, x: torch.Tensor, record: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        check_sequence("input", x, self.fc.in_features)
        zs, vs, self.state = run_lif(self.fc(x), self.p, record=record)
        return (zs, vs) if record else zs


class RecurrentLIFLayer(nn.Module):
    """Recurrent LIF layer: input ``fc`` plus ``rec`` (N x N, no self-connections by default), one step delay."""

    def __init__(self, n_in: int, n: int, p: LIFParameters | None = None, bias: bool = False,
                 self_connections: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n, bias=bias)
        self.rec = nn.Linear(n, n, bias=False)
        self.p = check_lif_parameters(p or LIFParameters())
        mask = torch.ones(n, n) if self_connections else 1.0 - torch.eye(n)
        self.register_buffer("rec_mask", mask)
        with torch.no_grad():
            self.rec.weight.mul_(self.rec_mask)
        self.state: LIFState | None = None

    def forward(self, x: torch.Tensor, record: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        check_sequence("input", x, self.fc.in_features)
        zs, vs, self.state = run_lif(self.fc(x), self.p, self.rec.weight * self.rec_mask, record)
        return (zs, vs) if record else zs


class LIReadout(nn.Module):
    """Non-spiking leaky-integrator output: ``fc`` then membrane; returns the membrane trace ``[T,B,n_out]``."""

    def __init__(self, n_in: int, n_out: int, p: LIFParameters | None = None, bias: bool = True) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n_out, bias=bias)
        self.p = check_lif_parameters(p or LIFParameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_sequence("input", x, self.fc.in_features)
        cur = self.fc(x)
        state = lif_initial_state(cur.shape[1:], self.p, cur)
        vs = []
        for t in range(cur.shape[0]):
            v, state = li_step(cur[t], state, self.p)
            vs.append(v)
        return torch.stack(vs)


READOUTS = ("max_membrane", "mean_membrane", "spike_count")


class SpikingMLP(nn.Module):
    """Image -> encoder -> LIF layers -> readout, returning class scores ``[B, n_classes]``.

    ``sizes = [n_in, h1, ..., n_out]``; hidden layers spike; the readout is a leaky integrator
    (max or mean of its membrane over time) or a spiking layer's spike counts. Trains with any rule
    that differentiates the output (``SurrogateBPTT``).
    """

    def __init__(self, sizes: Sequence[int], n_steps: int = 16, p: LIFParameters | None = None,
                 encoder: str = "current", readout: str = "max_membrane", recurrent: bool = False,
                 max_rate: float = 200.0) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ConfigError(f"sizes needs at least [n_in, n_out]; got {list(sizes)}")
        self.sizes = [int(s) for s in sizes]
        self.n_steps = int(check_range("n_steps", n_steps, 1))
        self.p = check_lif_parameters(p or LIFParameters())
        self.encoder = check_choice("encoder", encoder, ENCODERS)
        self.readout = check_choice("readout", readout, READOUTS)
        self.max_rate = float(max_rate)
        layer = RecurrentLIFLayer if recurrent else LIFLayer
        self.layers = nn.ModuleList(layer(a, b, self.p) for a, b in zip(self.sizes[:-2], self.sizes[1:-1], strict=True))
        if readout == "spike_count":
            self.out: nn.Module = LIFLayer(self.sizes[-2], self.sizes[-1], self.p, bias=True)
        else:
            self.out = LIReadout(self.sizes[-2], self.sizes[-1], self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = encode(x.flatten(1), self.encoder, self.n_steps, dt=self.p.dt, max_rate=self.max_rate)
        for layer in self.layers:
            s = layer(s)
        o = self.out(s)
        if self.readout == "spike_count":
            return o.sum(0)
        return o.max(0).values if self.readout == "max_membrane" else o.mean(0)
