"""run_continual: the accuracy matrix, its metrics, early errors, and composition with the rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plasticity.continual import (
    HLOP,
    FineTune,
    SVDProjection,
    TaskSequence,
    backward_transfer,
    make_task_sequence,
    run_continual,
    sgd,
)
from plasticity.data import TaskData
from plasticity.errors import ConfigError
from plasticity.models import MLP
from plasticity.rules import make_rule


@pytest.fixture(scope="module")
def seq() -> TaskSequence:
    return make_task_sequence("permuted-digits", 3, seed=0, n_train=400, n_test=150)


def test_accuracy_matrix_and_metrics(seq: TaskSequence) -> None:
    torch.manual_seed(0)
    res = run_continual(MLP([64, 32, 10]), make_rule("bp"), seq, FineTune(), sgd(0.2), epochs=8, batch_size=32)
    r = np.asarray(res.R)
    assert r.shape == (3, 3) and np.all((r >= 0) & (r <= 1))
    assert res.bwt == pytest.approx(backward_transfer(r))
    assert res.acc == pytest.approx(r[-1].mean())
    assert r[0, 0] > 0.5                        # it learnt the first task
    assert len(res.histories) == 3 and len(res.histories[0]) == 8
    assert len(res.initial) == 3 and res.to_dict()["method"] == "finetune"


@pytest.mark.parametrize("rule_name", ["bp", "sign", "dfa"])
def test_projection_forgets_less_than_fine_tuning(seq: TaskSequence, rule_name: str) -> None:
    out = {}
    for name, method in [("ft", FineTune()), ("svd", SVDProjection(components=[20, 10])),
                         ("hlop", HLOP(components=[20, 10]))]:
        torch.manual_seed(0)
        out[name] = run_continual(MLP([64, 32, 10]), make_rule(rule_name), seq, method, sgd(0.2), epochs=8,
                                  batch_size=32)
    assert out["svd"].bwt > out["ft"].bwt + 0.05
    assert out["hlop"].bwt > out["ft"].bwt + 0.05
    assert out["hlop"].method_info[-1]["components.layers.0"] == 60


def test_errors_come_before_training(seq: TaskSequence) -> None:
    with pytest.raises(ConfigError, match=r"layers.0.*90 subspace components.*only 65 inputs"):
        run_continual(MLP([64, 32, 10]), make_rule("bp"), seq, HLOP(components=[30, 5]))
    odd = TaskData("odd", torch.rand(10, 1, 4, 4), torch.zeros(10, dtype=torch.long), torch.rand(5, 1, 4, 4),
                   torch.zeros(5, dtype=torch.long), (1, 4, 4), 10)
    with pytest.raises(ConfigError, match="share one input shape"):
        run_continual(MLP([64, 32, 10]), make_rule("bp"), [seq[0], odd])
