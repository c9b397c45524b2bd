"""Gradient-check helpers: BPTT reference, per-layer cosines, Jacobian (a)symmetry."""

from __future__ import annotations

import torch

from plasticity.analysis.ep_gradcheck import (
    bptt_gradients,
    ep_gradient_check,
    jacobian_asymmetry,
    jacobian_matrix,
    layer_cosines,
)
from plasticity.models.energy import EnergyMLP, holo_cost
from plasticity.rules.ep import HolomorphicEP


def test_bptt_gradients_match_autograd_of_forward():
    torch.manual_seed(0)
    m = EnergyMLP([6, 5, 4, 3], T1=15)
    x, y = torch.rand(5, 6), torch.randint(0, 3, (5,))
    ref = bptt_gradients(m, x, y)
    holo_cost(m(x), y)[0].mean().backward()
    for n, p in m.named_parameters():
        assert torch.allclose(ref[n], p.grad, atol=1e-6)


def test_layer_cosines_groups_weight_and_bias():
    a = {"l.weight": torch.tensor([1.0, 0.0]), "l.bias": torch.tensor([0.0]), "r.weight": torch.tensor([1.0, 2.0])}
    b = {"l.weight": torch.tensor([2.0, 0.0]), "l.bias": torch.tensor([0.0]), "r.weight": torch.tensor([-1.0, -2.0])}
    cos = layer_cosines(a, b)
    assert abs(cos["l"] - 1) < 1e-9 and abs(cos["r"] + 1) < 1e-9 and set(cos) == {"l", "r", "total"}


def test_jacobian_symmetry_measures():
    x = torch.rand(3, 6)
    sym = EnergyMLP([6, 5, 4, 3])
    j = jacobian_matrix(sym, x)
    assert j.shape == (9, 9) and torch.allclose(j, j.t())
    assert jacobian_asymmetry(sym, x) < 1e-6
    torch.manual_seed(0)
    asym = EnergyMLP([6, 50, 40, 3], feedback="independent")
    assert 0.55 < jacobian_asymmetry(asym, x) < 0.85  # independent same-scale feedback: ~1/sqrt(2)


def test_ep_gradient_check_reports_every_layer():
    torch.manual_seed(0)
    m = EnergyMLP([6, 5, 4, 3], T1=60, T2=40)
    x, y = torch.rand(8, 6), torch.randint(0, 3, (8,))
    cos = ep_gradient_check(HolomorphicEP(0.5, n=4), m, x, y)
    assert set(cos) == {"layers.0", "layers.1", "readout", "total"}
    assert min(cos.values()) > 0.99


def test_conv_hep_matches_bptt_and_one_sided_does_not():
    from plasticity.models.energy import EnergyConvNet
    from plasticity.rules.ep import ClassicEP

    torch.manual_seed(0)
    m = EnergyConvNet((1, 8, 8), channels=(4, 6), n_classes=5, T1=60, T2=40, update="sync")
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 5, (8,))
    hep = ep_gradient_check(HolomorphicEP(0.5, n=4), m, x, y)
    one = ep_gradient_check(ClassicEP(0.5), m, x, y)
    assert set(hep) == {"convs.0", "convs.1", "readout", "total"}
    assert min(hep.values()) > 0.999  # measured 0.99999
    assert min(one.values()) < 0.95  # measured 0.88 (convs.1)
