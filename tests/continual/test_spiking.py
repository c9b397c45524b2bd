"""The spiking MLP of HLOP's PMNIST runs: reference LIF dynamics by hand, shapes, bad input."""

import pytest
import torch

from plasticity.continual import SpikingHLOPMLP, reference_lif
from plasticity.errors import ConfigError
from plasticity.rules.base import plastic_layers
from plasticity.spiking.layers import run_lif


def test_reference_lif_matches_spikingjelly_step_by_hand() -> None:
    # SpikingJelly LIF, tau 2, decay_input False, soft reset: v <- v/2 + x; x = 0.6:
    # 0.6, 0.9, 1.05 (spike -> 0.05), 0.625, 0.9125, 1.05625 (spike)
    p = reference_lif()
    gain = 1.0 / (1.0 - 0.5)
    cur = torch.full((6, 1, 1), 0.6 * gain, dtype=torch.float64)
    z = run_lif(cur, p)[0].flatten().tolist()
    assert z == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]


def test_spiking_mlp_shapes_and_layers() -> None:
    torch.manual_seed(0)
    m = SpikingHLOPMLP([16, 8, 8, 3], n_steps=4, input_mean=0.0, input_std=1.0, init_gain=3.0)
    out = m(torch.randn(5, 16))
    assert out.shape == (5, 3)
    assert [n for n, _ in plastic_layers(m)] == ["layers.0.fc", "layers.1.fc", "readout"]
    assert all(s.shape == (4, 5, 8) for s in m.hidden_spikes(torch.randn(5, 16)))
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="sizes"):
        SpikingHLOPMLP([16, 3])
    with pytest.raises(ConfigError, match="init_gain"):
        SpikingHLOPMLP([16, 8, 3], init_gain=0.0)
