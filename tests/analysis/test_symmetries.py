from __future__ import annotations

import pytest
import torch

from plasticity.analysis.symmetries import (
    bound_for_sizes,
    count_hidden_neurons,
    dimension_bound,
    functional_dimension,
    has_hidden_symmetries,
    numerical_rank,
    parameter_jacobian,
    sample_inputs,
)
from plasticity.errors import ConfigError
from plasticity.models import MLP


def _net(sizes, seed=0):
    torch.manual_seed(seed)
    return MLP(sizes)


def _x(n, d, seed=1):
    return sample_inputs(n, d, torch.Generator().manual_seed(seed))


def test_bound_counts_params_minus_hidden_neurons():
    net = _net([3, 5, 4, 2])
    assert count_hidden_neurons(net) == 9
    assert dimension_bound(net) == (3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2) - 9 == bound_for_sizes([3, 5, 4, 2])


def test_jacobian_matches_autograd_rows():
    net = _net([2, 4, 3])
    x = _x(5, 2)
    jac = parameter_jacobian(net, x)
    assert jac.shape == (5 * 3, sum(p.numel() for p in net.parameters()))
    net64 = net.double()
    out = net64(x[2:3])[0, 1]
    grads = torch.autograd.grad(out, list(net64.parameters()))
    torch.testing.assert_close(jac[2 * 3 + 1], torch.cat([g.reshape(-1) for g in grads]))


def test_numerical_rank_of_known_matrix_and_gap():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 8, generator=g, dtype=torch.float64)
    rank, tol, gap, sv = numerical_rank(a)
    assert rank == 3 and gap > 1e8 and tol > 0 and sv.shape == (8,)
    assert numerical_rank(torch.zeros(4, 4, dtype=torch.float64))[0] == 0


def test_generic_nets_reach_the_bound():
    for sizes in ([3, 8, 1], [2, 6, 2], [3, 8, 8, 1]):
        fd = functional_dimension(_net(sizes, seed=1), _x(4000, sizes[0]))
        assert fd.rank == fd.bound and not fd.has_hidden_symmetries and fd.gap > 1e6, (sizes, fd.rank, fd.bound)


def test_dead_neuron_loses_rank():
    net = _net([3, 8, 8, 1], seed=1)
    x = _x(4000, 3)
    with torch.no_grad():
        net.layers[0].weight[2] = 0.0
        net.layers[0].bias[2] = -1.0  # never fires on any input
    fd = functional_dimension(net, x)
    # its 3 in-weights, bias and 8 out-weights stop mattering; its scaling symmetry was already in the bound
    assert fd.has_hidden_symmetries and fd.deficit >= 3 + 1 + 8 - 1
    assert has_hidden_symmetries(net, x)


def test_zero_outgoing_weights_lose_rank():
    net = _net([2, 6, 1], seed=3)
    with torch.no_grad():
        net.layers[1].weight[0, :2] = 0.0  # two hidden neurons no longer reach the output
    fd = functional_dimension(net, _x(2000, 2))
    assert fd.deficit > 0


def test_batch_too_small_is_a_config_error():
    with pytest.raises(ConfigError, match="inputs"):
        functional_dimension(_net([3, 8, 1]), _x(5, 3))
