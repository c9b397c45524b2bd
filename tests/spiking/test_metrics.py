import math

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.spiking.metrics import (
    avalanches,
    coincidence_factor,
    cv_isi,
    firing_rates,
    isi,
    van_rossum_distance,
    victor_purpura_distance,
)


def train(n: int, times: list[int]) -> torch.Tensor:
    s = torch.zeros(n)
    s[times] = 1.0
    return s


def test_van_rossum_single_spike_against_empty():
    tau, dt, n = 10.0, 0.01, 20000
    d = van_rossum_distance(train(n, [100]), torch.zeros(n), tau=tau, dt=dt)
    # D^2 = (1/tau) int_0^inf exp(-2t/tau) dt = 1/2 (continuous limit)
    assert float(d) == pytest.approx(math.sqrt(0.5), rel=1e-3)
    # exact discrete sum (dt/tau) * sum_k a^(2k)
    a = math.exp(-dt / tau)
    exact = math.sqrt(dt / tau * (1 - a ** (2 * (n - 100))) / (1 - a**2))
    assert float(d) == pytest.approx(exact, rel=1e-5)


def test_van_rossum_shifted_spike_closed_form():
    tau, dt, n, shift = 10.0, 0.01, 30000, 500  # 5 ms
    d = van_rossum_distance(train(n, [100]), train(n, [100 + shift]), tau=tau, dt=dt)
    assert float(d) ** 2 == pytest.approx(1 - math.exp(-shift * dt / tau), rel=1e-3)


def test_van_rossum_identical_zero_and_per_neuron():
    a = (torch.rand(200, 3) < 0.1).float()
    assert torch.all(van_rossum_distance(a, a) == 0)
    b = a.clone()
    b[:, 1] = 0
    d = van_rossum_distance(a, b)
    assert d.shape == (3,) and d[0] == 0 and d[2] == 0 and d[1] > 0


def vp_reference(ta: list[float], tb: list[float], q: float) -> float:
    """Textbook O(nm) Victor-Purpura dynamic programme."""
    g = [[0.0] * (len(tb) + 1) for _ in range(len(ta) + 1)]
    for i in range(len(ta) + 1):
        g[i][0] = i
    for j in range(len(tb) + 1):
        g[0][j] = j
    for i in range(1, len(ta) + 1):
        for j in range(1, len(tb) + 1):
            g[i][j] = min(g[i - 1][j] + 1, g[i][j - 1] + 1, g[i - 1][j - 1] + q * abs(ta[i - 1] - tb[j - 1]))
    return g[-1][-1]


def test_victor_purpura_hand_cases():
    n = 50
    assert victor_purpura_distance(train(n, [0]), train(n, [3]), q=0.1) == pytest.approx(0.3)
    assert victor_purpura_distance(train(n, [0]), train(n, [3]), q=1.0) == pytest.approx(2.0)  # delete + insert
    assert victor_purpura_distance(torch.zeros(n), train(n, [1, 7, 9]), q=0.5) == pytest.approx(3.0)
    assert victor_purpura_distance(train(n, [1, 5]), train(n, [2]), q=0.1) == pytest.approx(1.1)
    assert victor_purpura_distance(train(n, [4, 9]), train(n, [4, 9]), q=0.3) == 0.0
    # q = 0: only the spike-count difference matters
    assert victor_purpura_distance(train(n, [1, 2, 3]), train(n, [40]), q=0.0) == pytest.approx(2.0)
    assert victor_purpura_distance(train(n, [0]), train(n, [3]), q=0.1, dt=2.0) == pytest.approx(0.6)


def test_victor_purpura_matches_reference_dp():
    g = torch.Generator().manual_seed(0)
    for q in (0.05, 0.3, 2.0):
        for _ in range(5):
            a = (torch.rand(60, generator=g) < 0.15).float()
            b = (torch.rand(60, generator=g) < 0.1).float()
            ta = torch.nonzero(a).flatten().tolist()
            tb = torch.nonzero(b).flatten().tolist()
            assert victor_purpura_distance(a, b, q=q) == pytest.approx(vp_reference(ta, tb, q))


def test_coincidence_factor_hand_case():
    a = train(100, [10, 50])
    b = train(100, [11, 80])
    # N_coinc = 1, nu = 2/100, 2 nu delta = 0.08: (1 - 0.08 * 2) / (0.5 * 4) / (1 - 0.08)
    assert coincidence_factor(a, b, delta=2.0) == pytest.approx(0.84 / 2 / 0.92)
    assert coincidence_factor(a, a, delta=2.0) == pytest.approx(1.0)
    assert math.isnan(coincidence_factor(torch.zeros(10), torch.zeros(10)))


def test_rates_isi_cv():
    s = train(100, [2, 5, 11])
    assert float(firing_rates(s)) == pytest.approx(30.0)  # 3 spikes in 100 ms
    assert float(firing_rates(s, dt=0.5)) == pytest.approx(60.0)
    iv, who = isi(s)
    assert iv.tolist() == [3.0, 6.0] and who.tolist() == [0, 0]
    two = torch.stack([s, train(100, [0, 10, 20, 30])], 1)
    iv, who = isi(two, dt=2.0)
    assert sorted(zip(who.tolist(), iv.tolist(), strict=True)) == [(0, 6.0), (0, 12.0), (1, 20.0), (1, 20.0), (1, 20.0)]
    cv = cv_isi(torch.stack([s, train(100, [0, 10, 20, 30]), train(100, [4])], 1))
    assert float(cv[0]) == pytest.approx(1.5 / 4.5)  # ISIs 3, 6: std 1.5, mean 4.5
    assert float(cv[1]) == 0.0
    assert math.isnan(float(cv[2]))


def test_avalanches_hand_case():
    counts = [0, 1, 2, 0, 0, 3, 0, 1]
    s = torch.zeros(8, 4)
    for t, c in enumerate(counts):
        s[t, :c] = 1
    sizes, durs = avalanches(s)
    assert sizes.tolist() == [3.0, 3.0, 1.0] and durs.tolist() == [2, 1, 1]
    sizes, durs = avalanches(s, bin_steps=2)  # bins: 1, 2, 3, 1 -> one avalanche
    assert sizes.tolist() == [7.0] and durs.tolist() == [4]
    sizes, _ = avalanches(torch.zeros(5, 2))
    assert sizes.numel() == 0


def test_bad_spike_tensors():
    with pytest.raises(ConfigError, match="differ in shape"):
        van_rossum_distance(torch.zeros(10), torch.zeros(11))
    with pytest.raises(ConfigError, match="0/1"):
        firing_rates(torch.full((5,), 2.0))
    with pytest.raises(ConfigError, match="dims"):
        isi(torch.zeros(2, 2, 2))
    with pytest.raises(ConfigError, match="1-D"):
        victor_purpura_distance(torch.zeros(5, 2), torch.zeros(5, 2))
    with pytest.raises(ConfigError, match="tau"):
        van_rossum_distance(torch.zeros(5), torch.zeros(5), tau=0.0)
