"""Active dendrites on sparse distributed representations (Ahmad & Hawkins 2016, arXiv:1601.00720).

Exact error probabilities of a dendritic segment with ``s`` synapses and NMDA threshold ``theta`` that
listens to a population of ``n`` cells of which ``a`` are active, computed in log-space (log-gamma +
log-sum-exp) so that n up to 10^6 never overflows; a vectorised Monte-Carlo simulator of random SDRs
that checks them; and a vectorised dendritic-segment neuron model (``DendriticNeurons``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError


def _check_sdr(n: int, a: int, s: int, theta: int) -> None:
    for name, v in (("n", n), ("a", a), ("s", s), ("theta", theta)):
        if int(v) != v or v < 0:
            raise ConfigError(f"{name}={v!r} must be a non-negative integer")
    if not 0 < a <= n:
        raise ConfigError(f"a={a} is out of range; allowed: [1, n={n}]")
    if not 0 < s <= n:
        raise ConfigError(f"s={s} is out of range; allowed: [1, n={n}]")
    if theta < 1:
        raise ConfigError(f"theta={theta} is out of range; allowed: [1, s={s}]")


def log_comb(n: np.ndarray | int, k: np.ndarray | int) -> np.ndarray:
    """log C(n, k) via log-gamma (−inf where k < 0 or k > n); exact to float64 rounding for n up to 10^9."""
    n_arr, k_arr = np.asarray(n, dtype=np.float64), np.asarray(k, dtype=np.float64)
    valid = (k_arr >= 0) & (k_arr <= n_arr)
    kk, nn = np.where(valid, k_arr, 0.0), np.where(valid, n_arr, 0.0)
    from scipy.special import gammaln  # lazy: keeps `import plasticity` light

    out = gammaln(nn + 1) - gammaln(kk + 1) - gammaln(nn - kk + 1)
    return np.where(valid, out, -np.inf)


def log_false_match_probability(n: int, a: int, s: int, theta: int) -> float:
    """log P(a random SDR with ``a`` of ``n`` bits on hits >= ``theta`` of a segment's ``s`` synapses).

    Ahmad & Hawkins eq. (subsampling): sum_{b=theta}^{s} C(s,b) C(n-s, a-b) / C(n,a).
    """
    _check_sdr(n, a, s, theta)
    if theta > min(s, a):
        return float("-inf")
    b = np.arange(theta, min(s, a) + 1)
    terms = log_comb(s, b) + log_comb(n - s, a - b) - log_comb(n, a)
    from scipy.special import logsumexp

    return float(logsumexp(terms)) if np.isfinite(terms).any() else float("-inf")


def false_match_probability(n: int, a: int, s: int, theta: int) -> float:
    """P(false match) of one segment (see ``log_false_match_probability``); underflows to 0 below ~1e-308."""
    return float(np.exp(log_false_match_probability(n, a, s, theta)))


def log_false_negative_probability(a: int, s: int, theta: int, noise: int) -> float:
    """log P(a stored pattern fails to reach ``theta`` after ``noise`` of its ``a`` active bits moved elsewhere).

    The segment subsampled ``s`` of the pattern's ``a`` bits; ``a - noise`` original bits survive, so the overlap
    b is hypergeometric: P(b < theta) = sum_{b=0}^{theta-1} C(s,b) C(a-s, a-noise-b) / C(a, a-noise).
    """
    if not 0 <= noise <= a:
        raise ConfigError(f"noise={noise} is out of range; allowed: [0, a={a}]")
    if not 0 < s <= a:
        raise ConfigError(f"s={s} is out of range; allowed: [1, a={a}] (synapses subsample the pattern)")
    if theta < 1:
        raise ConfigError(f"theta={theta} is out of range; allowed: [1, s={s}]")
    kept = a - noise
    b = np.arange(0, min(theta, s + 1))
    terms = log_comb(s, b) + log_comb(a - s, kept - b) - log_comb(a, kept)
    from scipy.special import logsumexp

    return float(logsumexp(terms)) if np.isfinite(terms).any() else float("-inf")


def false_negative_probability(a: int, s: int, theta: int, noise: int) -> float:
    """P(false negative) under ``noise`` moved bits (see ``log_false_negative_probability``)."""
    return float(np.exp(log_false_negative_probability(a, s, theta, noise)))


def union_segment_size_pmf(n: int, s_per_pattern: int, m: int) -> np.ndarray:
    """P(a segment holds u distinct synapses), u = 0..m*s, when it subsamples ``s_per_pattern`` bits from each of
    ``m`` independent random patterns. Each subsample is a uniform s-subset of the n cells, so adding one is a
    hypergeometric step: u -> u + s - k with k ~ Hypergeom(n, u, s) already-present synapses."""
    if m < 1:
        raise ConfigError(f"m={m} is out of range; allowed: [1, inf)")
    s = s_per_pattern
    top = min(n, m * s)
    pmf = np.zeros(top + 1)
    pmf[s] = 1.0
    k = np.arange(0, s + 1)
    for _ in range(m - 1):
        nxt = np.zeros_like(pmf)
        for u in np.flatnonzero(pmf):
            w = np.exp(log_comb(u, k) + log_comb(n - u, s - k) - log_comb(n, s))   # k of the s fall on old ones
            np.add.at(nxt, np.minimum(u + s - k, top), pmf[u] * w)
        pmf = nxt
    return pmf


def union_false_match_probability(n: int, a: int, s_per_pattern: int, theta: int, m: int,
                                  exact: bool = True) -> float:
    """Union property: one segment holding ``s_per_pattern`` synapses from each of ``m`` patterns false-matches a
    random SDR. ``exact=False`` is the paper's formula, the single-segment one at s = m * s_per_pattern
    (Hawkins & Ahmad 2016, S1 Table 1D uses s = 2*m*theta), which ignores subsamples that pick the same cell, an
    O(m^2 s^2 / n) error. ``exact=True`` averages the single-segment formula over the distinct-synapse count
    (``union_segment_size_pmf``)."""
    if m < 1:
        raise ConfigError(f"m={m} is out of range; allowed: [1, inf)")
    if not exact:
        return false_match_probability(n, a, m * s_per_pattern, theta)
    pmf = union_segment_size_pmf(n, s_per_pattern, m)
    return float(sum(pmf[u] * false_match_probability(n, a, u, theta) for u in np.flatnonzero(pmf)))


def union_size(n: int, a: int, m: int) -> float:
    """Expected number of ON bits in the union (bitwise OR) of ``m`` random SDRs: n (1 - (1 - a/n)^m)."""
    return float(n * -np.expm1(m * np.log1p(-a / n)))


def optimal_threshold(n: int, a: int, s: int, noise: int, fn_weight: float = 1.0) -> tuple[int, np.ndarray]:
    """Threshold theta in 1..s minimising P(false match) + fn_weight * P(false negative | noise moved bits).

    Returns (theta*, total error per theta) — the paper's prediction of the optimal NMDA-spike threshold.
    """
    total = np.array([false_match_probability(n, a, s, t) + fn_weight * false_negative_probability(a, s, t, noise)
                      for t in range(1, s + 1)])
    return int(np.argmin(total)) + 1, total


# ----------------------------------------------------------------------------------------- Monte-Carlo


@dataclass
class MonteCarloEstimate:
    """Hits out of trials with a Clopper-Pearson interval at ``level``."""

    hits: int
    trials: int
    level: float

    @property
    def p(self) -> float:
        return self.hits / self.trials

    @property
    def interval(self) -> tuple[float, float]:
        alpha = 1.0 - self.level
        k, t = self.hits, self.trials
        from scipy.stats import beta as beta_dist  # lazy: scipy.stats costs ~0.5 s to import

        lo = 0.0 if k == 0 else float(beta_dist.ppf(alpha / 2, k, t - k + 1))
        hi = 1.0 if k == t else float(beta_dist.ppf(1 - alpha / 2, k + 1, t - k))
        return lo, hi

    def contains(self, value: float) -> bool:
        lo, hi = self.interval
        return lo <= value <= hi


def random_sdrs(batch: int, n: int, a: int, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """``batch`` random binary vectors of length ``n`` with exactly ``a`` ON bits (bool, shape (batch, n))."""
    keys = torch.rand(batch, n, generator=generator, device=device)
    idx = keys.topk(a, dim=1).indices
    out = torch.zeros(batch, n, dtype=torch.bool, device=device)
    return out.scatter_(1, idx, True)


def _segment_overlaps(n: int, a: int, synapses: torch.Tensor, trials: int, chunk: int,
                      generator: torch.Generator | None) -> torch.Tensor:
    """Overlap of ``trials`` random SDRs with the synapse index sets ``synapses`` (shape (trials, s) or (s,))."""
    outs = []
    for start in range(0, trials, chunk):
        b = min(chunk, trials - start)
        x = random_sdrs(b, n, a, generator, synapses.device)
        syn = synapses if synapses.dim() == 1 else synapses[start:start + b]
        syn = syn.expand(b, -1) if syn.dim() == 1 else syn
        outs.append(x.gather(1, syn).sum(1))
    return torch.cat(outs)


def simulate_false_match(n: int, a: int, s: int, theta: int, trials: int, generator: torch.Generator | None = None,
                         device: torch.device | str = "cpu", level: float = 0.95, chunk: int = 4096
                         ) -> MonteCarloEstimate:
    """Monte-Carlo false-match rate: random segments of ``s`` synapses vs random SDRs, hit if overlap >= theta."""
    _check_sdr(n, a, s, theta)
    # a uniformly random SDR makes every segment equivalent, so one random segment per run is exact
    synapses = torch.rand(n, generator=generator, device=device).topk(s).indices
    hits = int((_segment_overlaps(n, a, synapses, trials, chunk, generator) >= theta).sum())
    return MonteCarloEstimate(hits, trials, level)


def simulate_false_negative(a: int, s: int, theta: int, noise: int, trials: int, n: int | None = None,
                            generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                            level: float = 0.95) -> MonteCarloEstimate:
    """Monte-Carlo false-negative rate: store a pattern by subsampling ``s`` of its ``a`` bits, move ``noise``
    of its bits to random other cells, count trials whose overlap with the segment drops below theta."""
    n = n if n is not None else 4 * a
    keys = torch.rand(trials, a, generator=generator, device=device)
    synapses = keys.topk(s, dim=1).indices                                   # segment subsamples the pattern
    removed = torch.rand(trials, a, generator=generator, device=device).topk(noise, dim=1).indices if noise else None
    alive = torch.ones(trials, a, dtype=torch.bool, device=device)
    if removed is not None:
        alive.scatter_(1, removed, False)                                     # moved bits land outside the pattern
    overlap = alive.gather(1, synapses).sum(1)
    return MonteCarloEstimate(int((overlap < theta).sum()), trials, level)


def simulate_union_false_match(n: int, a: int, s_per_pattern: int, theta: int, m: int, trials: int,
                               generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                               level: float = 0.95, chunk: int = 2048) -> MonteCarloEstimate:
    """Monte-Carlo union property: a segment gets ``s_per_pattern`` synapses from each of ``m`` stored random
    patterns; a fresh random SDR false-matches if it hits >= theta distinct synapses."""
    hits = 0
    for start in range(0, trials, chunk):
        b = min(chunk, trials - start)
        stored = random_sdrs(b * m, n, a, generator, device).view(b, m, n)
        keys = torch.rand(b, m, n, generator=generator, device=device).masked_fill(~stored, -1.0)
        pick = keys.topk(s_per_pattern, dim=2).indices.view(b, m * s_per_pattern)
        seg = torch.zeros(b, n, dtype=torch.bool, device=device).scatter_(1, pick, True)
        x = random_sdrs(b, n, a, generator, device)
        hits += int(((x & seg).sum(1) >= theta).sum())
    return MonteCarloEstimate(hits, trials, level)


# ----------------------------------------------------------------------------------------- neuron model


class DendriticNeurons(torch.nn.Module):
    """``neurons`` cells with ``segments`` dendritic segments of ``s`` synapses each (indices into an n-cell
    input). A segment fires an NMDA spike when >= ``theta`` of its synapses see active input; a cell is
    depolarised (predictive) when any segment spikes (Ahmad & Hawkins 2016, Fig. 1).
    """

    def __init__(self, n: int, neurons: int, segments: int, s: int, theta: int,
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__()
        _check_sdr(n, max(s, 1), s, theta)
        self.n, self.s, self.theta = n, s, theta
        keys = torch.rand(neurons, segments, n, generator=generator, device=device)
        self.register_buffer("synapses", keys.topk(s, dim=2).indices)      # (neurons, segments, s)

    def learn(self, patterns: torch.Tensor, neuron: torch.Tensor, segment: torch.Tensor,
              generator: torch.Generator | None = None) -> None:
        """Grow segment[k] of neuron[k] onto ``s`` randomly subsampled ON bits of patterns[k] (bool (K, n))."""
        keys = torch.rand(patterns.shape, generator=generator, device=patterns.device).masked_fill(~patterns, -1.0)
        self.synapses[neuron, segment] = keys.topk(self.s, dim=1).indices

    def segment_overlap(self, x: torch.Tensor) -> torch.Tensor:
        """Active-synapse count per segment: (batch, n) bool/0-1 -> (batch, neurons, segments)."""
        xf = x.to(torch.float32)
        flat = self.synapses.reshape(-1)
        return xf[:, flat].view(x.shape[0], *self.synapses.shape).sum(-1)

    def forward(self, x: torch.Tensor, max_elements: int = 1 << 26) -> torch.Tensor:
        """Predictive state (batch, neurons) bool: any segment reaches threshold. The batch is processed in
        chunks so the gathered (chunk, neurons, segments, s) tensor stays under ``max_elements``."""
        per_row = max(1, self.synapses.numel())
        chunk = max(1, max_elements // per_row)
        if x.shape[0] <= chunk:
            return (self.segment_overlap(x) >= self.theta).any(-1)
        return torch.cat([(self.segment_overlap(xb) >= self.theta).any(-1) for xb in x.split(chunk)])
