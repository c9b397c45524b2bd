"""correct_per_example: per-example correctness, eval mode, training mode restored."""

from __future__ import annotations

import torch

from plasticity.lab.trainer import correct_per_example, evaluate


def test_correct_per_example_matches_evaluate_and_restores_mode() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3))
    x, y = torch.randn(2500, 5), torch.randint(0, 3, (2500,))
    model.train()
    c = correct_per_example(model, x, y, batch_size=1000)
    assert c.dtype == torch.bool and c.shape == (2500,) and model.training
    assert int(c.sum()) / 2500 == evaluate(model, x, y)["accuracy"]
