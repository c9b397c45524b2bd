from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.studies import get_study
from plasticity.studies.curl import critical_fraction, growth, student, teacher_task, train


def test_critical_fraction_midpoint():
    fr = [0.0, 0.1, 0.2, 0.3]
    ratios = np.array([[1e-9, 1e-9], [1e-8, 1e-7], [1e-2, np.inf], [np.inf, np.inf]])
    assert critical_fraction(fr, ratios, 1e-3) == pytest.approx(0.15)
    assert critical_fraction(fr, np.full((4, 2), 1e-9), 1e-3) == 0.3       # never fails: the largest tried
    assert critical_fraction(fr, np.full((4, 2), np.inf), 1e-3) == 0.0


def test_growth_reads_the_second_half_and_the_round_off_floor():
    assert growth(np.array([1.0, 1e-3, 1e-2])) == pytest.approx(1.0)          # grows over the second half
    assert growth(np.array([1.0, 1e-3, 1e-4])) == pytest.approx(-1.0)
    assert growth(np.array([1.0, 1e-20, 1e-14])) == pytest.approx(-14.0)      # at the floor: whole-run change
    assert math.isinf(growth(np.array([1.0, 1.0, np.inf])))
    # an instability that saturated in the first half (flat second half) still reads as growth: the cpu record
    # at d_in 64 and 90 climbed from 5e-10 to 2e-2 by mid-run, which the second half alone read as ~0
    assert growth(np.array([5e-10, 2.5e-2, 2.4e-2])) == pytest.approx(np.log10(2.4e-2 / 5e-10))


def test_compressed_linear_task_has_the_same_loss_and_gradient():
    full = teacher_task(6, 9, 40, False, 0, compress=False)
    comp = teacher_task(6, 9, 40, False, 0)
    assert comp.x.shape == (6, 6) and torch.allclose(full.w1, comp.w1)
    m1, m2 = student(full, "random", 1), student(comp, "random", 1)
    for task, m in ((full, m1), (comp, m2)):
        err = m(task.x) - task.y
        (0.5 * (err ** 2).sum() / err.shape[0]).backward()
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(p1.grad, p2.grad)


def test_teacher_start_is_a_fixed_point_and_renormalisation_keeps_norms():
    task = teacher_task(8, 20, 50, False, 0)
    exact = student(task, "teacher", 0, perturbation=0.0)
    losses = train(task, exact, 0.5, 20, 0.1, 0)
    assert losses.max() < 1e-25                                              # zero gradient at the teacher
    model = student(task, "random", 0)
    norms = [float(layer.weight.detach().norm()) for layer in model.layers]
    train(task, model, 0.5, 50, 0.1, 0)
    assert [float(layer.weight.detach().norm()) for layer in model.layers] == pytest.approx(norms, rel=1e-10)


def test_gradient_descent_keeps_the_teacher_solution_stable():
    task = teacher_task(10, 40, 60, False, 0)
    assert growth(train(task, student(task, "teacher", 0), 0.0, 200, 0.1, 0)) < 0


def test_bad_fraction_is_one_line_config_error():
    with pytest.raises(ConfigError, match="fractions_stability"):
        get_study("curl").config("smoke", fractions_stability=[0.2, 1.5])
    with pytest.raises(ConfigError, match="low_fraction"):
        get_study("curl").config("smoke", low_fraction=-0.1)


def test_curl_smoke(tmp_path):
    res = get_study("curl").run(scale="smoke", out_dir=tmp_path, quiet=True)
    m = res.metrics
    assert m["stability_low_max_growth"] < 0                                 # few flips: the solution is stable
    assert m["learning_low_max_ratio"] < 1e-2
    assert len(m["critical_fraction_vs_expansion"]) == len(res.config["expansion_inputs"])
    assert len(m["saddle"]["gd"]) == len(m["saddle"]["curl"]) == res.config["saddle_inits"]
    assert len(res.checks) == 6 and res.deviations
    assert (tmp_path / "phase.png").exists()


def test_spearman_gives_ties_their_average_rank() -> None:
    from plasticity.studies.curl import _spearman

    # a critical fraction that saturates the grid at both ends is a monotone step: rho ~0.88, whatever the order
    assert _spearman([9.95, 5.26, 3.47, 2.42, 1.84, 1.43], [0.7, 0.7, 0.7, 0.0, 0.0, 0.0]) == pytest.approx(0.878, abs=1e-3)
    assert _spearman([1.43, 1.84, 2.42, 3.47, 5.26, 9.95], [0.0, 0.0, 0.0, 0.7, 0.7, 0.7]) == pytest.approx(0.878, abs=1e-3)
