import pytest
import torch

from plasticity.data import load_dataset
from plasticity.errors import ConfigError
from plasticity.lab.trainer import Trainer, evaluate
from plasticity.spiking.bptt import SurrogateBPTT
from plasticity.spiking.layers import SpikingMLP
from plasticity.utils import seed_everything


def test_bptt_fills_every_grad_and_overrides_surrogate():
    torch.manual_seed(0)
    m = SpikingMLP([6, 8, 3], n_steps=5, recurrent=True)
    rule = SurrogateBPTT(surrogate="arctan", alpha=3.0)
    rule.prepare(m)
    assert all(layer.p.surrogate == "arctan" and layer.p.alpha == 3.0 for layer in m.layers)
    rep = rule.step(m, torch.rand(4, 6), torch.tensor([0, 1, 2, 0]))
    assert float(rep.loss) > 0
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert m.layers[0].fc.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="surrogate"):
        SurrogateBPTT(surrogate="step")


@pytest.mark.slow
def test_bptt_reaches_95_percent_on_digits():
    """Spiking baseline: 64-128-10 LIF net, 16 steps, current input, max-membrane readout, Adam, 15 epochs."""
    torch.set_num_threads(1)
    seed_everything(0)
    d = load_dataset("digits")
    m = SpikingMLP([64, 128, 10], n_steps=16)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    Trainer(m, SurrogateBPTT(), opt, d, epochs=15, batch_size=32, seed=0).fit()
    acc = evaluate(m, d.x_test, d.y_test)["accuracy"]
    assert acc >= 0.95, acc
