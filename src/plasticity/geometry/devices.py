"""Synapse devices (Lim et al., 2017): each weight is a conductance pair, w = r·(G⁺ − G⁻)/(G_max − G_min).

A device sits on one of ``levels`` states n ∈ {0..L−1}; potentiation follows
G_P(n) = G_min + ΔG·f(n/(L−1)), f(x) = (1 − e^{−νx})/(1 − e^{−ν}) (ν = ``nonlinearity``, 0 = linear); a
depression pulse follows the mirrored curve G_D, so with ν > 0 up and down steps differ (asymmetry),
and the result is snapped back to the level grid. The desired change −η·g becomes a number of pulses
(stochastic rounding). ``bidirectional``: P pulses on G⁺ and D pulses on G⁻ (or the reverse);
``unidirectional``: only P pulses, on G⁺ for increases and on G⁻ for decreases, with a refresh
(reset both, reprogram the difference) when a device saturates. Device-to-device variation scales
each device's G_max; read noise perturbs the weight the network sees, not the stored state.
Programming a weight onto the level grid (at start and at refresh) rounds stochastically between the two
nearest conductances, unbiased in the weight; ``rounding="nearest"`` snaps instead, which silently zeroes
every weight below half the first (largest, for ν > 0) conductance step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..errors import ConfigError, check_choice, check_range

SCHEMES = ("bidirectional", "unidirectional")
ROUNDINGS = ("stochastic", "nearest")


def _f(x: torch.Tensor, nu: float) -> torch.Tensor:
    return x if nu < 1e-6 else (1 - torch.exp(-nu * x)) / (1 - math.exp(-nu))


def _finv(y: torch.Tensor, nu: float) -> torch.Tensor:
    y = y.clamp(0.0, 1.0)
    return y if nu < 1e-6 else -torch.log1p(-y * (1 - math.exp(-nu))) / nu


class DeviceSynapses(torch.optim.Optimizer):
    """Optimizer that stores every parameter as a pair of finite-level, nonlinear conductance devices.

    Args:
        params: parameters or groups.
        lr: learning rate (the desired change is −lr·grad before pulse quantisation).
        levels: conductance states per device (≥ 2).
        nonlinearity: ν ≥ 0 of the potentiation/depression curves (0 = linear).
        g_min: lowest conductance (arbitrary units; g_min < g_max).
        g_max: highest conductance.
        w_range: r, the largest |w| representable (one device fully on, the other off).
        scheme: ``"bidirectional"`` or ``"unidirectional"``.
        variation: relative std of each device's G_max (device-to-device variation).
        read_noise: std of additive noise on the read weight, relative to ``w_range``.
        seed: for variation, read noise and stochastic rounding.
        rounding: how a weight is programmed onto the level grid at start and at refresh: ``"stochastic"``
            (unbiased in the nominal weight) or ``"nearest"``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.1, levels: int = 32, nonlinearity: float = 0.0,
                 g_min: float = 0.0, g_max: float = 1.0, w_range: float = 1.0, scheme: str = "bidirectional",
                 variation: float = 0.0, read_noise: float = 0.0, seed: int = 0,
                 rounding: str = "stochastic") -> None:
        check_range("lr", float(lr), 0.0, None, low_inclusive=False)
        if int(levels) != levels or levels < 2:
            raise ConfigError(f"levels={levels!r} is out of range; allowed: integer >= 2")
        check_range("nonlinearity", float(nonlinearity), 0.0, None)
        if not float(g_min) < float(g_max):
            raise ConfigError(f"g_min={g_min!r} must be < g_max={g_max!r} (arguments 'g_min', 'g_max')")
        check_range("w_range", float(w_range), 0.0, None, low_inclusive=False)
        check_choice("scheme", scheme, SCHEMES)
        check_range("variation", float(variation), 0.0, 1.0, high_inclusive=False)
        check_range("read_noise", float(read_noise), 0.0, None)
        check_choice("rounding", rounding, ROUNDINGS)
        defaults = dict(lr=float(lr), levels=int(levels), nonlinearity=float(nonlinearity), g_min=float(g_min),
                        g_max=float(g_max), w_range=float(w_range), scheme=scheme, variation=float(variation),
                        read_noise=float(read_noise), rounding=rounding)
        super().__init__(params, defaults)
        self._gen: dict[torch.device, torch.Generator] = {}
        self.seed = int(seed)
        self.refreshes = 0
        for group in self.param_groups:
            for p in group["params"]:
                self._program(p, group)

    # -- device physics --------------------------------------------------------------------
    def _g(self, device: torch.device) -> torch.Generator:
        if device not in self._gen:
            self._gen[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._gen[device]

    @staticmethod
    def conductance(n: torch.Tensor, gmax: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        """G_P(n): conductance of state ``n`` for devices with maximum ``gmax``."""
        return group["g_min"] + (gmax - group["g_min"]) * _f(n / (group["levels"] - 1), group["nonlinearity"])

    def _depress(self, n: torch.Tensor, k: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        """State after ``k`` depression pulses along the mirrored curve, snapped to the level grid (≤ n)."""
        nu, top = group["nonlinearity"], group["levels"] - 1
        y = _f(n / top, nu)                       # normalised conductance on the P curve
        m = _finv(1 - y, nu) * top                # equivalent pulses down from G_max on the D curve
        y_new = 1 - _f(((m + k) / top).clamp(max=1.0), nu)
        n_new = torch.round(_finv(y_new, nu) * top)
        return torch.minimum(n_new, n).clamp_(0, top)

    def _weight(self, st: dict[str, torch.Tensor], group: dict[str, Any]) -> torch.Tensor:
        gp = self.conductance(st["n_plus"], st["gmax_plus"], group)
        gm = self.conductance(st["n_minus"], st["gmax_minus"], group)
        return group["w_range"] * (gp - gm) / (group["g_max"] - group["g_min"])

    def _levels_for(self, w: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        """State index whose nominal conductance above G_min represents |w|: the nearest one, or (stochastic
        rounding) one of the two enclosing levels, picked so that the expected nominal weight is |w|."""
        top, nu = group["levels"] - 1, group["nonlinearity"]
        y = (w.abs() / group["w_range"]).clamp(0, 1)
        x = _finv(y, nu) * top
        if group.get("rounding", "stochastic") == "nearest":
            return torch.round(x)
        lo = torch.floor(x).clamp_(0, top - 1)
        y_lo, y_hi = _f(lo / top, nu), _f((lo + 1) / top, nu)
        p_up = ((y - y_lo) / (y_hi - y_lo)).clamp_(0, 1)
        u = torch.rand(w.shape, generator=self._g(w.device), device=w.device, dtype=w.dtype)
        return lo + (u < p_up).to(w.dtype)

    @torch.no_grad()
    def _program(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        st = self.state[p]
        g = self._g(p.device)
        span = group["g_max"] - group["g_min"]
        for key in ("gmax_plus", "gmax_minus"):
            eps = torch.randn(p.shape, generator=g, device=p.device, dtype=p.dtype)
            st[key] = group["g_min"] + span * (1 + group["variation"] * eps).clamp_min(0.05)
        n = self._levels_for(p, group)
        zero = torch.zeros_like(p)
        if group["scheme"] == "bidirectional":
            # start both devices mid-range so that either can move both ways
            mid = torch.full_like(p, float((group["levels"] - 1) // 2))
            half = torch.ceil(n / 2)
            hi, lo = (mid + half).clamp(0, group["levels"] - 1), (mid - (n - half)).clamp(0, group["levels"] - 1)
            st["n_plus"] = torch.where(p >= 0, hi, lo)
            st["n_minus"] = torch.where(p >= 0, lo, hi)
        else:
            st["n_plus"] = torch.where(p >= 0, n, zero)
            st["n_minus"] = torch.where(p < 0, n, zero)
        self._read(p, st, group)

    def _read(self, p: torch.Tensor, st: dict[str, torch.Tensor], group: dict[str, Any]) -> None:
        w = self._weight(st, group)
        if group["read_noise"]:
            w = w + group["read_noise"] * group["w_range"] * torch.randn(
                w.shape, generator=self._g(p.device), device=p.device, dtype=p.dtype)
        p.copy_(w)

    def _pulses(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Stochastic rounding of a non-negative pulse count."""
        fl = torch.floor(x)
        return fl + (torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) < (x - fl)).to(x.dtype)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            top = group["levels"] - 1
            unit = group["w_range"] / top        # nominal weight change of one pulse on one device
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                dw = -group["lr"] * p.grad
                gen = self._g(p.device)
                up = dw > 0
                if group["scheme"] == "unidirectional":
                    k = self._pulses(dw.abs() / unit, gen)
                    st["n_plus"] = torch.where(up, st["n_plus"] + k, st["n_plus"]).clamp_(0, top)
                    st["n_minus"] = torch.where(~up, st["n_minus"] + k, st["n_minus"]).clamp_(0, top)
                    self._refresh(p, st, group)
                else:
                    k = self._pulses(dw.abs() / (2 * unit), gen)
                    pot_plus = torch.where(up, st["n_plus"] + k, st["n_plus"]).clamp_(0, top)
                    pot_minus = torch.where(~up, st["n_minus"] + k, st["n_minus"]).clamp_(0, top)
                    dep_plus = self._depress(st["n_plus"], k, group)
                    dep_minus = self._depress(st["n_minus"], k, group)
                    st["n_plus"] = torch.where(up, pot_plus, dep_plus)
                    st["n_minus"] = torch.where(up, dep_minus, pot_minus)
                self._read(p, st, group)
        return loss

    def _refresh(self, p: torch.Tensor, st: dict[str, torch.Tensor], group: dict[str, Any]) -> None:
        """Unidirectional refresh: where a device saturated, reset both and program the difference on one."""
        top = group["levels"] - 1
        sat = (st["n_plus"] >= top) | (st["n_minus"] >= top)
        if not bool(sat.any()):
            return
        w = self._weight(st, group)
        n = self._levels_for(w, group)
        st["n_plus"] = torch.where(sat, torch.where(w >= 0, n, 0.0), st["n_plus"])
        st["n_minus"] = torch.where(sat, torch.where(w < 0, n, 0.0), st["n_minus"])
        self.refreshes += int(sat.sum())

    def state_dict(self) -> dict[str, Any]:
        """Standard torch.optim state plus the random generators' states and the refresh count, so a noisy run
        (read noise, stochastic rounding) resumes bit-identically."""
        sd = super().state_dict()
        sd["generators"] = {str(d): g.get_state() for d, g in self._gen.items()}
        sd["refreshes"] = self.refreshes
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        sd = dict(state_dict)
        gens = sd.pop("generators", {})
        self.refreshes = int(sd.pop("refreshes", self.refreshes))
        super().load_state_dict(sd)
        for d, st in gens.items():
            self._g(torch.device(d)).set_state(st)

    def device_weights(self) -> list[torch.Tensor]:
        """The noise-free weights stored in the devices, one tensor per parameter."""
        return [self._weight(self.state[p], g) for g in self.param_groups for p in g["params"]]
