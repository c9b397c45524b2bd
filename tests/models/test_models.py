from __future__ import annotations

import pytest
import torch

import plasticity as P


def test_mlp_shapes_and_flatten():
    m = P.MLP([64, 32, 10], activation="tanh", bias=False)
    assert m(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    assert all(layer.bias is None for layer in m.layers)


def test_convnet_shapes():
    m = P.ConvNet((1, 8, 8), channels=(4, 8), hidden=16, n_classes=10)
    assert m(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert m(torch.randn(2, 64)).shape == (2, 10)


def test_bad_model_arguments():
    with pytest.raises(P.ConfigError, match="sizes"):
        P.MLP([64])
    with pytest.raises(P.ConfigError, match="activation"):
        P.MLP([4, 2], activation="swishy")
    with pytest.raises(P.ConfigError, match="expects sizes\\[0\\]=64"):
        P.MLP([64, 10])(torch.randn(2, 10))
    with pytest.raises(P.ConfigError, match="too many pooling"):
        P.ConvNet((1, 4, 4), channels=(2, 2, 2, 2))
