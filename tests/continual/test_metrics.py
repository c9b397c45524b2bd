"""ACC, BWT, FWT and forgetting on hand-computed accuracy matrices."""

from __future__ import annotations

import numpy as np
import pytest

from plasticity.continual import average_accuracy, backward_transfer, forgetting, forward_transfer
from plasticity.errors import ConfigError

R = [[0.9, 0.1, 0.1],
     [0.7, 0.8, 0.2],
     [0.5, 0.6, 0.9]]


def test_metrics_match_their_definitions() -> None:
    assert average_accuracy(R) == pytest.approx((0.5 + 0.6 + 0.9) / 3)
    assert backward_transfer(R) == pytest.approx(((0.5 - 0.9) + (0.6 - 0.8)) / 2)
    assert forward_transfer(R, [0.1, 0.1, 0.1]) == pytest.approx(((0.1 - 0.1) + (0.2 - 0.1)) / 2)
    assert forgetting(R) == pytest.approx(((0.9 - 0.5) + (0.8 - 0.6)) / 2)
    no_forgetting = np.triu(np.ones((4, 4))) * 0 + np.tril(np.full((4, 4), 0.8))
    assert backward_transfer(no_forgetting) == pytest.approx(0.0)
    assert backward_transfer([[0.7]]) == 0.0 and average_accuracy([[0.7]]) == pytest.approx(0.7)


def test_metrics_reject_non_square_matrices() -> None:
    with pytest.raises(ConfigError, match="square"):
        backward_transfer([[0.1, 0.2]])
    with pytest.raises(ConfigError, match="baseline"):
        forward_transfer(R, [0.1])
