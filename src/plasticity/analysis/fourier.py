"""Per-neuron Fourier analysis of modular-addition networks (He et al. 2025, "mechanism and dynamics").

A trained neuron ``m`` has input weights ``theta_m[j] ~ a cos(w_k j + phi_m)`` and output weights
``xi_m[j] ~ b cos(w_k j + psi_m)`` with one frequency ``w_k = 2 pi k / p`` and the doubled-phase relation
``psi_m = 2 phi_m`` (phase alignment). These functions measure exactly that from weight matrices.
"""

from __future__ import annotations

import math

import torch


def frequency_energy(w: torch.Tensor) -> torch.Tensor:
    """Energy of each row of ``w`` (``(n_neurons, p)``) per frequency ``k = 0..p//2``.

    ``k`` and ``p - k`` are merged (a real cosine puts half its energy in each), so the columns sum to the
    row's squared norm (Parseval), with ``k = 0`` the constant (DC) part.
    """
    p = w.shape[-1]
    power = torch.fft.fft(w.to(torch.float64), dim=-1).abs().pow(2) / p
    n_freq = p // 2 + 1
    energy = power[..., :n_freq].clone()
    mirror = torch.arange(1, n_freq, device=w.device)
    mirror = mirror[(p - mirror) != mirror]          # for even p, k = p/2 has no partner
    energy[..., mirror] += power[..., p - mirror]
    return energy


def dominant_frequency(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: the non-constant frequency ``k >= 1`` with most energy, and its share of the row's total energy."""
    energy = frequency_energy(w)
    share, k = energy[..., 1:].max(dim=-1)
    total = energy.sum(-1).clamp_min(torch.finfo(energy.dtype).tiny)
    return k + 1, share / total


def phase_at(w: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Phase ``phi`` of each row of ``w`` at its frequency ``k`` (row ``m`` ~ ``cos(2 pi k_m j / p + phi_m)``)."""
    f = torch.fft.fft(w.to(torch.float64), dim=-1)
    return torch.angle(f.gather(-1, k.long().unsqueeze(-1)).squeeze(-1))


def wrap_angle(x: torch.Tensor) -> torch.Tensor:
    """Map angles to ``(-pi, pi]``."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def neuron_fourier(w_in: torch.Tensor, w_out: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Fourier summary of every neuron of a two-layer modular-addition net.

    ``w_in``: ``(n_neurons, p)`` input weights (one row per neuron, indexed by the input residue);
    ``w_out``: ``(p, n_neurons)`` output weights (column ``m`` indexed by the output residue), optional.
    Returns ``freq``, ``share`` (dominant frequency's share of the input-weight energy) and, with ``w_out``,
    ``out_freq``, ``out_share``, ``freq_match`` (same dominant frequency) and ``phase_error``
    ``|wrap(psi - 2 phi)|`` at the input frequency (0 = perfect phase alignment).
    """
    k, share = dominant_frequency(w_in)
    out: dict[str, torch.Tensor] = {"freq": k, "share": share}
    if w_out is not None:
        xi = w_out.t()
        k_out, share_out = dominant_frequency(xi)
        phi, psi = phase_at(w_in, k), phase_at(xi, k)
        out.update(out_freq=k_out, out_share=share_out, freq_match=k_out == k,
                   phase_error=wrap_angle(psi - 2 * phi).abs())
    return out


def fraction_concentrated(share: torch.Tensor, threshold: float = 0.8) -> float:
    """Fraction of neurons whose dominant frequency holds more than ``threshold`` of their energy."""
    return float((share > threshold).double().mean())
