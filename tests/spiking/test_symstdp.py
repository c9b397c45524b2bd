import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.spiking.symstdp import SymmetricSTDP, SymSTDPNet, symmetric_stdp, synaptic_scaling


def test_symmetric_window_is_order_independent():
    pre = torch.zeros(30, 1, 1)
    post = torch.zeros(30, 1, 1)
    pre[10], post[15] = 1, 1
    causal = symmetric_stdp(pre, post, tau=10.0, dt=1.0)
    pre2, post2 = post.clone(), pre.clone()  # post before pre by the same lag
    acausal = symmetric_stdp(pre2, post2, tau=10.0, dt=1.0)
    assert float(causal) == pytest.approx(float(acausal))
    assert float(causal) == pytest.approx(torch.exp(torch.tensor(-0.5)).item())  # exp(-5/10), potentiation only
    far = torch.zeros(30, 1, 1)
    far[29] = 1
    assert float(symmetric_stdp(pre, far, 10.0, 1.0)) < float(causal)


def test_synaptic_scaling_rows():
    w = torch.rand(5, 7)
    synaptic_scaling(w, 3.0)
    assert torch.allclose(w.sum(1), torch.full((5,), 3.0))


def test_rule_leaves_update_in_grad_and_sgd_applies_it():
    torch.manual_seed(0)
    net = SymSTDPNet(16, n_exc=12, n_out=3, n_steps=30, norm_exc=8.0)
    rule = SymmetricSTDP(eta_exc=0.01, eta_out=0.01)
    x, y = torch.rand(4, 16), torch.tensor([0, 1, 2, 0])
    w0 = net.fc1.weight.detach().clone()
    rep = rule.step(net, x, y)
    assert net.fc1.weight.grad is not None and net.fc2.weight.grad is not None
    assert torch.equal(net.fc1.weight, w0)  # the rule itself does not touch the weights
    torch.optim.SGD(net.parameters(), lr=1.0).step()
    assert torch.allclose(net.fc1.weight.sum(1), torch.full((12,), net.norm_exc), atol=1e-4)
    assert torch.all(net.fc1.weight >= 0)
    assert rep.output.shape == (4, 3) and net.theta.sum() > 0


def test_teacher_drives_label_neuron():
    torch.manual_seed(1)
    net = SymSTDPNet(16, n_exc=12, n_out=3, n_steps=60)
    x = torch.rand(6, 16)
    run = net.simulate(x, teacher=torch.nn.functional.one_hot(torch.full((6,), 2), 3).float() * 0.5)
    counts = run.s_out.sum(0)
    assert torch.all(counts.argmax(1) == 2)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="n_exc"):
        SymSTDPNet(16, n_exc=0)
    with pytest.raises(ConfigError, match="tau_stdp"):
        SymmetricSTDP(tau_stdp=0.0)
    with pytest.raises(TypeError):
        SymmetricSTDP().prepare(torch.nn.Linear(2, 2))
