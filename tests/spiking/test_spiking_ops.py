from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import plasticity as P
from plasticity.spiking.ops import SpikingMatmul, SpikingSiLU, SpikingSoftmax, SpikingTransformerBlock, decode, encode


def test_encode_counts_and_quantisation_bound():
    x = torch.tensor([0.0, 1.0, -2.0, 3.99, 10.0])
    s = encode(x, T=16, x_max=4.0)
    assert s.shape == (16, 5) and set(s.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert s.sum(0).tolist() == [0.0, 4.0, -8.0, 15.0, 16.0]         # floor(T |x| / x_max), clipped at x_max
    xr = torch.linspace(-4, 4, 101)
    for T, burst in ((16, 1), (8, 4)):
        err = (decode(encode(xr, T, 4.0, burst), 4.0, burst) - xr).abs().max()
        assert err <= 4.0 / (T * burst) + 1e-6


def test_spiking_matmul_equals_decoded_input_times_w():
    x, w = torch.randn(5, 7), torch.randn(7, 3)
    got = SpikingMatmul(T=32, x_max=4.0)(x, w)
    torch.testing.assert_close(got, decode(encode(x, 32, 4.0), 4.0) @ w)
    with pytest.raises(P.ConfigError, match="do not match"):
        SpikingMatmul()(x, torch.randn(6, 3))


def test_nonlinear_ops_converge_with_T():
    x = torch.randn(200, 8).clamp(-3.9, 3.9)          # inside the coding range (beyond x_max inputs saturate)
    errs = [float((SpikingSiLU(T)(x) - F.silu(x)).abs().max()) for T in (16, 64, 256)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.05
    sm = SpikingSoftmax(T=256)(x)
    torch.testing.assert_close(sm.sum(-1), torch.ones(200))
    assert (sm - x.softmax(-1)).abs().max() < 0.02


def test_block_matches_float_block():
    torch.manual_seed(0)
    spk = SpikingTransformerBlock(d_model=16, d_hidden=32, T=256)
    flt = SpikingTransformerBlock(d_model=16, d_hidden=32, spiking=False)
    flt.load_state_dict(spk.state_dict())
    x = torch.randn(2, 6, 16)
    ref = flt(x)
    assert float((spk(x) - ref).abs().mean() / ref.abs().max()) < 0.01


def test_bad_arguments():
    with pytest.raises(P.ConfigError, match="T=0"):
        encode(torch.zeros(2), T=0, x_max=1.0)
    with pytest.raises(P.ConfigError, match="x_max"):
        encode(torch.zeros(2), T=4, x_max=0.0)
    with pytest.raises(P.ConfigError, match="knots"):
        SpikingSiLU(knots=1)
