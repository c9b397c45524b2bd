from __future__ import annotations

import math

import torch

from plasticity.analysis.fourier import (
    dominant_frequency,
    fraction_concentrated,
    frequency_energy,
    neuron_fourier,
    phase_at,
    wrap_angle,
)


def _cos(p: int, k: torch.Tensor, phase: torch.Tensor, amp: float = 1.0) -> torch.Tensor:
    j = torch.arange(p, dtype=torch.float64)
    return amp * torch.cos(2 * math.pi * k.double().unsqueeze(-1) * j / p + phase.unsqueeze(-1))


def test_pure_cosine_neuron_has_share_one_at_its_frequency_and_aligned_phase():
    p = 97
    k = torch.tensor([1, 5, 13, 48])
    phi = torch.tensor([0.3, -1.2, 2.5, 0.0], dtype=torch.float64)
    w_in = _cos(p, k, phi, 0.7)
    w_out = _cos(p, k, 2 * phi, 1.3).t()                        # (p, n_neurons), psi = 2 phi
    out = neuron_fourier(w_in, w_out)
    assert torch.equal(out["freq"], k)
    assert torch.allclose(out["share"], torch.ones(4, dtype=torch.float64), atol=1e-10)
    assert bool(out["freq_match"].all())
    assert float(out["phase_error"].max()) < 1e-8
    assert torch.allclose(wrap_angle(phase_at(w_in, k) - phi), torch.zeros(4, dtype=torch.float64), atol=1e-10)


def test_misaligned_output_phase_is_reported():
    p, k = 23, torch.tensor([3])
    phi = torch.tensor([0.4], dtype=torch.float64)
    out = neuron_fourier(_cos(p, k, phi), _cos(p, k, phi + 1.0).t())    # psi = phi + 1, not 2 phi
    assert abs(float(out["phase_error"][0]) - 0.6) < 1e-8


def test_energy_is_parseval_and_share_is_the_energy_fraction():
    torch.manual_seed(0)
    for p in (22, 23):                                           # even p: k = p/2 has no mirror partner
        w = torch.randn(5, p, dtype=torch.float64)
        e = frequency_energy(w)
        assert e.shape == (5, p // 2 + 1)
        assert torch.allclose(e.sum(-1), w.pow(2).sum(-1))
    # two frequencies with amplitudes 2 and 1: the dominant one holds 4 / 5 of the energy
    p = 31
    w = _cos(p, torch.tensor([4]), torch.tensor([0.0]), 2.0) + _cos(p, torch.tensor([9]), torch.tensor([1.0]), 1.0)
    k, share = dominant_frequency(w)
    assert int(k[0]) == 4 and abs(float(share[0]) - 0.8) < 1e-10
    # a constant offset counts in the total energy but is never the dominant frequency
    k, share = dominant_frequency(_cos(p, torch.tensor([2]), torch.tensor([0.0])) + 10.0)
    assert int(k[0]) == 2 and float(share[0]) < 0.01


def test_random_weights_are_not_concentrated():
    torch.manual_seed(1)
    _, share = dominant_frequency(torch.randn(200, 97))
    assert float(share.max()) < 0.3
    assert fraction_concentrated(share, 0.8) == 0.0
    assert fraction_concentrated(torch.tensor([0.9, 0.85, 0.5, 0.1]), 0.8) == 0.5
