from __future__ import annotations

import pytest
import torch

from plasticity.data.modadd import modular_addition, one_hot_pairs
from plasticity.errors import ConfigError


def test_full_table_labels_and_split():
    d = modular_addition(11, 1.0)
    assert d.x_train.shape == (121, 2) and d.n_classes == 11
    assert torch.equal(d.y_train, (d.x_train[:, 0] + d.x_train[:, 1]) % 11)
    assert torch.equal(d.x_test, d.x_train)

    d = modular_addition(23, 0.75, seed=3)
    assert len(d.y_train) == round(0.75 * 23 * 23) and len(d.y_train) + len(d.y_test) == 23 * 23
    codes = torch.cat([d.x_train, d.x_test]) @ torch.tensor([23, 1])
    assert torch.equal(codes.sort().values, torch.arange(23 * 23))         # disjoint, covers every pair
    assert torch.equal(d.y_test, (d.x_test[:, 0] + d.x_test[:, 1]) % 23)
    again, other = modular_addition(23, 0.75, seed=3), modular_addition(23, 0.75, seed=4)
    assert torch.equal(again.x_train, d.x_train) and not torch.equal(other.x_train, d.x_train)


def test_onehot_encoding():
    d = modular_addition(7, 0.5, seed=0, encoding="onehot")
    assert d.x_train.shape[1] == 14 and d.input_shape == (14,)
    assert torch.equal(d.x_train.sum(1), torch.full((len(d.x_train),), 2.0))
    a, b = d.x_train[:, :7].argmax(1), d.x_train[:, 7:].argmax(1)
    assert torch.equal((a + b) % 7, d.y_train)
    x = one_hot_pairs(torch.tensor([[3, 3]]), 5)
    assert x.tolist() == [[0, 0, 0, 1, 0, 0, 0, 0, 1, 0]]


@pytest.mark.parametrize(("kwargs", "name"), [({"p": 1}, "p"), ({"train_frac": 0.0}, "train_frac"),
                                               ({"train_frac": 1.5}, "train_frac"), ({"encoding": "bits"}, "encoding")])
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        modular_addition(**kwargs)
