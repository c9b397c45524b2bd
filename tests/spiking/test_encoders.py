import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.spiking.encoders import encode, latency_encode, poisson_encode
from plasticity.spiking.surrogate import SURROGATES, spike_fn, surrogate_grad


def test_poisson_rate_matches_intensity():
    x = torch.tensor([0.0, 0.25, 1.0])
    s = poisson_encode(x, 100000, max_rate=200.0, dt=1.0, generator=torch.Generator().manual_seed(0))
    assert s.shape == (100000, 3)
    rate = s.mean(0) * 1000.0  # Hz
    assert rate[0] == 0
    assert float(rate[1]) == pytest.approx(50.0, rel=0.05)
    assert float(rate[2]) == pytest.approx(200.0, rel=0.05)


def test_latency_bright_first_and_one_spike():
    x = torch.tensor([[1.0, 0.5, 0.0]])
    s = latency_encode(x, 11)
    assert s.shape == (11, 1, 3)
    assert s[:, 0, 0].nonzero().item() == 0 and s[:, 0, 1].nonzero().item() == 5
    assert s[:, 0, 2].sum() == 0


def test_encoder_bad_input():
    with pytest.raises(ConfigError, match="negative"):
        poisson_encode(torch.tensor([-0.1, 0.5]), 10)
    with pytest.raises(ConfigError, match="negative"):
        latency_encode(torch.tensor([-1.0]), 10)
    with pytest.raises(ConfigError, match="dt"):
        poisson_encode(torch.tensor([0.5]), 10, dt=0.0)
    with pytest.raises(ConfigError, match="max_rate"):
        poisson_encode(torch.tensor([0.5]), 10, max_rate=-5.0)
    with pytest.raises(ConfigError, match="encoder"):
        encode(torch.rand(3), "morse", 10)


@pytest.mark.parametrize("shape", SURROGATES)
def test_surrogates_peak_at_threshold_and_pass_gradient(shape):
    x = torch.linspace(-1, 1, 201, requires_grad=True)
    z = spike_fn(x, shape, 5.0)
    assert torch.equal(z.detach(), (x >= 0).float())
    z.sum().backward()
    g = surrogate_grad(x.detach(), shape, 5.0)
    assert torch.allclose(x.grad, g)
    assert int(g.argmax()) == 100 and torch.all(g >= 0)
    assert torch.allclose(g, g.flip(0))
