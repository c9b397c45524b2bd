import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.spiking.layers import RecurrentLIFLayer
from plasticity.spiking.pspm import PSPM, run_recurrent, window_any


def test_window_any():
    s = torch.zeros(10)
    s[4] = 1
    assert window_any(s, 1, 2).nonzero().flatten().tolist() == [2, 3, 4, 5]
    assert window_any(s, 0, 0).nonzero().flatten().tolist() == [4]


def test_run_recurrent_matches_layer_forward_when_free():
    torch.manual_seed(0)
    layer = RecurrentLIFLayer(5, 6)
    x = (torch.rand(40, 3, 5) < 0.3).float() * 3
    assert torch.equal(run_recurrent(layer, x), layer(x)[0])


def _setup(seed=0):
    torch.manual_seed(seed)
    layer = RecurrentLIFLayer(8, 4)
    with torch.no_grad():
        layer.fc.weight.fill_(0.3)
        layer.rec.weight.zero_()
    x = (torch.rand(100, 2, 8) < 0.2).float()
    return layer, x


def test_missing_spikes_potentiate_and_extra_spikes_depress():
    layer, x = _setup()
    rule = PSPM(eta_plus=0.1, eta_minus=0.1, p_select=1.0, eta_homeo=0.0)
    silent = torch.zeros(100, 2, 4)
    rule.step(layer, x, silent)  # student fires, target silent: all errors are extra spikes
    assert layer.fc.weight.grad.min() >= 0 and layer.fc.weight.grad.max() > 0  # grad = -dw: depression
    busy = torch.zeros(100, 2, 4)
    busy[::5] = 1
    with torch.no_grad():
        layer.fc.weight.zero_()
    rule.step(layer, x, busy)  # silent student, target spikes: potentiation
    assert layer.fc.weight.grad.max() <= 0 and layer.fc.weight.grad.min() < 0
    assert torch.all(layer.rec.weight.grad.diagonal() == 0)


def test_pspm_reduces_distance_to_target():
    torch.manual_seed(0)
    teacher, student = RecurrentLIFLayer(20, 10), RecurrentLIFLayer(20, 10)
    with torch.no_grad():
        teacher.fc.weight.normal_(0.25, 0.15)
        student.fc.weight.normal_(0.25, 0.15)
    x = (torch.rand(200, 2, 20) < 0.02).float()
    y = run_recurrent(teacher, x)
    rule = PSPM(eta_plus=0.02, eta_minus=0.02)
    opt = torch.optim.SGD(student.parameters(), lr=1.0)
    first = rule.step(student, x, y).loss
    for _ in range(40):
        opt.step()
        last = rule.step(student, x, y).loss
    assert float(last) < 0.7 * float(first)


def test_bad_input():
    layer, x = _setup()
    with pytest.raises(ConfigError, match="target"):
        PSPM().step(layer, x, torch.zeros(100, 2, 5))
    with pytest.raises(ConfigError, match="differ"):
        PSPM().step(layer, x, torch.zeros(90, 2, 4))
    with pytest.raises(ConfigError, match="p_select"):
        PSPM(p_select=0.0)
    with pytest.raises(ConfigError, match="RecurrentLIFLayer"):
        PSPM().prepare(torch.nn.Linear(2, 2))


def test_interspike_intervals_and_avalanches_by_hand():
    from plasticity.spiking.pspm import avalanche_sizes, interspike_intervals, ks_distance, population_bin

    s = torch.zeros(12, 1, 2)
    s[[1, 4, 9], 0, 0] = 1          # neuron 0: ISIs 3, 5
    s[[2, 3], 0, 1] = 1             # neuron 1: ISI 1
    assert sorted(interspike_intervals(s, dt=2.0).tolist()) == [2.0, 6.0, 10.0]
    # population counts per step: 0 1 1 1 1 0 0 0 0 1 0 0 -> avalanches of size 4 and 1 (bin 1)
    assert avalanche_sizes(s, 1).tolist() == [4.0, 1.0]
    # bin 2: counts 1 2 1 0 1 0 -> runs [1, 2, 1] and [1]
    assert avalanche_sizes(s, 2).tolist() == [4.0, 1.0]
    assert population_bin(s) == 2      # 12 steps x 1 trial / 5 spikes
    assert ks_distance(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])) == 0.0
    assert ks_distance(torch.tensor([1.0]), torch.tensor([5.0])) == 1.0
    with pytest.raises(ConfigError, match="bin_steps"):
        avalanche_sizes(s, 0)


def test_ks_change_se_is_the_sampling_noise_of_a_ks_change():
    from plasticity.spiking.pspm import ks_change_se

    g = torch.Generator().manual_seed(0)
    draw = lambda n: torch.rand(n, generator=g)  # noqa: E731
    small, large = ks_change_se(draw(100), draw(100), draw(100)), ks_change_se(draw(2000), draw(2000), draw(2000))
    assert 0.0 < large < small < 0.2          # shrinks with the sample size (~1/sqrt(n))
    assert small / large > 2.5
    assert ks_change_se(torch.tensor([1.0]), draw(50), draw(50)) == 0.0   # a pinned KS distance has no spread


def test_lean_simulation_matches_the_substrate_with_refractoriness():
    from plasticity.spiking.layers import run_lif
    from plasticity.spiking.neurons import LIFParameters

    torch.manual_seed(1)
    layer = RecurrentLIFLayer(6, 5, LIFParameters(t_ref=2.0))
    with torch.no_grad():
        layer.fc.weight.normal_(0.4, 0.2)
    x = (torch.rand(80, 2, 6) < 0.2).float()
    ref = run_lif(layer.fc(x), layer.p, layer.rec.weight * layer.rec_mask)[0].detach()
    assert ref.sum() > 0 and torch.equal(run_recurrent(layer, x), ref)
