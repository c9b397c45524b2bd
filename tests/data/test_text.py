from __future__ import annotations

import pytest
import torch

import plasticity as P
from plasticity.data.text import CharCorpus, load_corpus
from plasticity.errors import ConfigError
from plasticity.models.gpt import TinyGPT


def test_reversed_corpus_holds_the_same_held_out_symbols():
    text = load_corpus(max_chars=5000)
    f, b = CharCorpus(text), CharCorpus(text, reverse=True)
    assert f.vocab == b.vocab
    assert torch.equal(f.val.flip(0), b.val) and torch.equal(f.train.flip(0), b.train)
    x, y = f.windows("train", 16, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])


def test_gpt_is_causal():
    torch.manual_seed(0)
    m = TinyGPT(20, context=8, d_model=16, n_layers=1, n_heads=2).eval()
    x = torch.randint(0, 20, (1, 8))
    x2 = x.clone()
    x2[0, 5] = (x[0, 5] + 1) % 20
    torch.testing.assert_close(m(x)[0, :5], m(x2)[0, :5])
    assert not torch.allclose(m(x)[0, 5:], m(x2)[0, 5:])


def test_bad_inputs():
    with pytest.raises(P.ConfigError, match="corpus"):
        load_corpus("shakespeare")
    with pytest.raises(P.ConfigError, match="divisible"):
        TinyGPT(10, d_model=10, n_heads=3)
    with pytest.raises(P.ConfigError, match="exceeds the model context"):
        TinyGPT(10, context=4, d_model=8, n_heads=2)(torch.zeros(1, 5, dtype=torch.long))


def test_tiled_windows_cover_the_split_in_order_and_match_reversed_symbols():
    text = "".join(chr(97 + (i * 7) % 26) for i in range(1000))
    fwd, bwd = CharCorpus(text, 0.2), CharCorpus(text, 0.2, reverse=True)
    x, y = fwd.tiled("val", 16)
    n = (len(fwd.val) - 1) // 16
    assert x.shape == y.shape == (n, 16)
    assert torch.equal(x.flatten(), fwd.val[: n * 16]) and torch.equal(y.flatten(), fwd.val[1 : n * 16 + 1])
    assert sorted(bwd.val.tolist()) == sorted(fwd.val.tolist())  # same held-out characters, read backwards
    with pytest.raises(ConfigError, match="too long"):
        fwd.tiled("val", 10_000)
