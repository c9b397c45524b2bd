from __future__ import annotations

import pytest
import torch

import plasticity as P
from plasticity.data import batches, load_dataset, n_test_examples, student_teacher, xor5d
from plasticity.data.batches import n_batches


def test_digits_fixed_stratified_split():
    d = load_dataset("digits")
    assert d.x_train.shape == (1437, 1, 8, 8) and d.x_test.shape == (360, 1, 8, 8)
    assert torch.bincount(d.y_test).min() >= 35
    assert torch.equal(load_dataset("digits").y_test, d.y_test)


def test_test_split_sizes_match_the_loaders():
    assert n_test_examples("digits") == load_dataset("digits").x_test.shape[0] == 360
    assert n_test_examples("mnist") == n_test_examples("fashion-mnist") == 10_000
    with pytest.raises(P.ConfigError, match="dataset"):
        n_test_examples("cifar10")


def test_synthetic_tasks_are_seeded():
    a, b = xor5d(seed=3), xor5d(seed=3)
    assert torch.equal(a.x_train, b.x_train) and a.input_shape == (5,)
    assert torch.equal(a.y_train, ((a.x_train[:, 0] > 0) ^ (a.x_train[:, 1] > 0)).long())
    st = student_teacher(seed=1, nonlinear=True)
    assert st.x_train.shape == (250, 20) and st.y_train.shape == (250, 1) and st.n_classes == 0
    assert not torch.equal(st.y_train, student_teacher(seed=2, nonlinear=True).y_train)


def test_batches_deterministic_and_resumable():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    full = [b[1].tolist() for b in batches(x, y, 3, seed=1, epoch=2)]
    assert sorted(i for b in full for i in b) == list(range(10)) and len(full) == n_batches(10, 3)
    assert [b[1].tolist() for b in batches(x, y, 3, seed=1, epoch=2, start=2)] == full[2:]
    assert full != [b[1].tolist() for b in batches(x, y, 3, seed=1, epoch=3)]


def test_unknown_dataset():
    with pytest.raises(P.ConfigError, match="unknown dataset 'imagenet'; allowed: digits"):
        load_dataset("imagenet")
