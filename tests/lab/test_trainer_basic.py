from __future__ import annotations

import pytest
import torch

import plasticity as P


def test_trainer_learns_digits_and_records_history():
    data = P.load_dataset("digits")
    model = P.MLP([64, 64, 10])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    hist = P.Trainer(model, P.Backprop(), opt, data, epochs=3, batch_size=32).fit()
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert hist[-1]["test_accuracy"] > 0.85 and hist[-1]["train_loss"] < hist[0]["train_loss"]


def test_trainer_stops_on_divergence_naming_the_step():
    data = P.load_dataset("xor5d", n_train=64)
    model = P.MLP([5, 8, 2])
    opt = torch.optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(P.DivergenceError, match="diverged at step"):
        P.Trainer(model, P.Backprop(), opt, data, epochs=20, batch_size=16).fit()


def test_transforms_run_between_rule_and_optimizer():
    data = P.load_dataset("xor5d", n_train=32)
    model = P.MLP([5, 4, 2])
    before = [p.detach().clone() for p in model.parameters()]

    def zero_grads(m):
        for p in m.parameters():
            p.grad.zero_()

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    P.Trainer(model, P.Backprop(), opt, data, epochs=1, batch_size=8, transforms=[zero_grads]).fit()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
