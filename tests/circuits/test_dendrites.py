"""SDR theory (Ahmad & Hawkins 2016): exact formulas vs brute force, paper values, Monte-Carlo, neuron model."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy.stats import hypergeom

from plasticity.circuits.dendrites import (
    DendriticNeurons,
    false_match_probability,
    false_negative_probability,
    log_comb,
    log_false_match_probability,
    optimal_threshold,
    random_sdrs,
    simulate_false_match,
    simulate_false_negative,
    simulate_union_false_match,
    union_false_match_probability,
    union_segment_size_pmf,
    union_size,
)
from plasticity.errors import ConfigError


def _brute_fm(n: int, a: int, s: int, theta: int) -> float:
    num = sum(math.comb(s, b) * math.comb(n - s, a - b) for b in range(theta, s + 1) if a - b >= 0)
    return float(Fraction(num, math.comb(n, a)))


def test_log_comb_matches_math_comb() -> None:
    for n, k in [(10, 3), (100, 50), (1000, 7), (5, 0), (5, 5)]:
        assert log_comb(n, k) == pytest.approx(math.log(math.comb(n, k)), rel=1e-12, abs=1e-12)
    assert log_comb(5, 6) == -math.inf and log_comb(5, -1) == -math.inf


@pytest.mark.parametrize("n,a,s,theta", [(50, 10, 8, 3), (200, 20, 12, 4), (1000, 300, 24, 12), (30, 29, 10, 9)])
def test_false_match_equals_exact_rational(n: int, a: int, s: int, theta: int) -> None:
    assert false_match_probability(n, a, s, theta) == pytest.approx(_brute_fm(n, a, s, theta), rel=1e-9)


def test_paper_values_to_three_significant_digits() -> None:
    assert f"{false_match_probability(10000, 300, 24, 12):.3g}" == "8.38e-13"
    assert f"{false_match_probability(100000, 2000, 10, 10):.3g}" == "1e-17"
    # union: 20 synapses per pattern for m = 2 patterns on one segment, n = 100000, a = 2000, theta = 10
    assert f"{union_false_match_probability(100000, 2000, 20, 10, 2, exact=False):.3g}" == "4.92e-09"


def test_large_n_no_overflow_and_sparsity_helps() -> None:
    lp = log_false_match_probability(10**6, 200, 40, 30)
    assert math.isfinite(lp) and lp < -200
    ps = [false_match_probability(n, 64, 24, 12) for n in (1000, 10000, 100000, 1000000)]
    assert all(b < a for a, b in itertools.pairwise(ps))
    assert false_match_probability(1000, 10, 24, 12) == 0.0          # theta > a: impossible


def test_false_negative_is_hypergeometric() -> None:
    a, s, theta, noise = 40, 20, 10, 15
    expected = hypergeom(a, s, a - noise).cdf(theta - 1)
    assert false_negative_probability(a, s, theta, noise) == pytest.approx(expected, rel=1e-10)
    assert false_negative_probability(a, s, theta, 0) == 0.0


def test_union_size_and_validation() -> None:
    assert union_size(1000, 10, 1) == pytest.approx(10)
    assert union_size(1000, 10, 2) == pytest.approx(1000 * (1 - 0.99**2))
    with pytest.raises(ConfigError, match="a="):
        false_match_probability(100, 200, 10, 5)
    with pytest.raises(ConfigError, match="noise"):
        false_negative_probability(40, 20, 10, 41)
    with pytest.raises(ConfigError, match="m="):
        union_false_match_probability(100, 10, 5, 2, 0)


def test_optimal_threshold_balances_errors() -> None:
    theta, err = optimal_threshold(2000, 40, 20, noise=10)
    assert 1 < theta < 20 and len(err) == 20
    assert err[theta - 1] < err[0] and err[theta - 1] < err[-1]


def test_random_sdrs_have_exactly_a_bits() -> None:
    x = random_sdrs(64, 500, 17, torch.Generator().manual_seed(0))
    assert x.dtype == torch.bool and (x.sum(1) == 17).all()


def test_monte_carlo_agrees_with_formula() -> None:
    g = torch.Generator().manual_seed(1)
    est = simulate_false_match(500, 50, 30, 5, trials=4000, generator=g, level=0.999)
    assert est.contains(false_match_probability(500, 50, 30, 5))
    est = simulate_false_negative(40, 20, 10, 20, trials=4000, generator=g, level=0.999)
    assert est.contains(false_negative_probability(40, 20, 10, 20))
    est = simulate_union_false_match(2000, 200, 8, 4, 3, trials=1000, generator=g, level=0.999)
    assert est.contains(union_false_match_probability(2000, 200, 8, 4, 3))
    lo, hi = est.interval
    assert 0 <= lo <= est.p <= hi <= 1


def test_dendritic_neurons_recognise_stored_patterns() -> None:
    g = torch.Generator().manual_seed(0)
    model = DendriticNeurons(n=1000, neurons=10, segments=4, s=16, theta=8, generator=g)
    pats = random_sdrs(40, 1000, 40, g)
    idx = torch.arange(40)
    model.learn(pats, idx // 4, idx % 4, g)
    out = model(pats)
    assert out.shape == (40, 10)
    assert out[idx, idx // 4].all()                                     # each pattern depolarises its owner
    assert model.segment_overlap(pats)[idx, idx // 4, idx % 4].eq(16).all()
    probes = random_sdrs(500, 1000, 40, g)
    assert model(probes).float().mean() < 0.01                          # random SDRs almost never match


def test_dendritic_neurons_chunk_large_batches() -> None:
    """The paper scale (2000 cells x 8 segments x 16 synapses, 200k probes) would gather 200 GB at once."""
    g = torch.Generator().manual_seed(1)
    model = DendriticNeurons(n=500, neurons=12, segments=3, s=10, theta=4, generator=g)
    x = random_sdrs(257, 500, 60, g)
    whole = (model.segment_overlap(x) >= 4).any(-1)
    assert torch.equal(model(x, max_elements=model.synapses.numel() * 10), whole)   # 26 chunks of 10
    assert torch.equal(model(x), whole)


def test_union_segment_size_pmf_is_a_distribution_with_the_right_mean() -> None:
    n, s, m = 2000, 8, 3
    pmf = union_segment_size_pmf(n, s, m)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert pmf[: s].sum() == 0.0
    # E[distinct synapses] for m independent uniform s-subsets: n (1 - (1 - s/n)^m)
    assert (pmf * np.arange(pmf.size)).sum() == pytest.approx(n * (1 - (1 - s / n) ** m), rel=1e-9)
    assert union_false_match_probability(n, 200, 8, 4, 1) == pytest.approx(false_match_probability(n, 200, 8, 4))


def test_exact_union_probability_matches_monte_carlo_where_the_paper_formula_does_not() -> None:
    # small n makes same-cell subsamples common: the paper's s = m*s_per_pattern formula is 0.580, exact 0.542
    g = torch.Generator().manual_seed(0)
    est = simulate_union_false_match(300, 60, 10, 6, 3, trials=20_000, generator=g, level=0.999)
    assert est.contains(union_false_match_probability(300, 60, 10, 6, 3))
    assert not est.contains(union_false_match_probability(300, 60, 10, 6, 3, exact=False))
