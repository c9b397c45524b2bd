"""Task sequences: permutations from a seed, disjoint class splits, shape checks."""

from __future__ import annotations

import pytest
import torch

from plasticity.continual import TaskSequence, make_task_sequence, permuted_tasks, split_tasks
from plasticity.data import TaskData, load_dataset
from plasticity.errors import ConfigError


def _toy(n: int = 40, shape: tuple[int, ...] = (1, 3, 4), n_classes: int = 4) -> TaskData:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, *shape, generator=g)
    y = torch.arange(n) % n_classes
    return TaskData("toy", x, y, x[:20].clone(), y[:20].clone(), shape, n_classes)


def test_permuted_tasks_are_seeded_permutations_of_the_same_images() -> None:
    base = _toy()
    a, b = permuted_tasks(base, 3, seed=1), permuted_tasks(base, 3, seed=1)
    c = permuted_tasks(base, 3, seed=2)
    assert len(a) == 3 and a.input_shape == (1, 3, 4)
    for t in range(3):
        assert torch.equal(a[t].x_train, b[t].x_train)
        assert torch.equal(a[t].y_train, base.y_train)
        # the same multiset of pixel values per image, moved around
        assert torch.equal(a[t].x_train.flatten(1).sort(1).values, base.x_train.flatten(1).sort(1).values)
    assert not torch.equal(a[1].x_train, a[2].x_train)
    assert not torch.equal(a[1].x_train, c[1].x_train)
    # train and test use the same permutation: pixel i of task t is the same source pixel in both
    src = base.x_train.flatten(1)[0]
    perm = [int((src == v).nonzero()[0]) for v in a[1].x_train.flatten(1)[0]]
    assert torch.equal(a[1].x_test.flatten(1), base.x_test.flatten(1)[:, perm])
    # a longer sequence extends a shorter one
    assert torch.equal(permuted_tasks(base, 5, seed=1)[2].x_train, a[2].x_train)
    assert torch.equal(permuted_tasks(base, 2, seed=1, identity_first=True)[0].x_train, base.x_train)


def test_split_tasks_partition_the_classes() -> None:
    base = _toy(n_classes=4)
    seq = split_tasks(base, 2)
    assert seq.classes == [[0, 1], [2, 3]]
    assert seq.n_classes == 2
    for t, task in enumerate(seq):
        assert set(task.y_train.tolist()) == {0, 1}
        keep = (base.y_train >= 2 * t) & (base.y_train < 2 * t + 2)
        assert torch.equal(task.x_train, base.x_train[keep])
    raw = split_tasks(base, 2, relabel=False)
    assert set(raw[1].y_train.tolist()) == {2, 3} and raw.n_classes == 4
    shuffled = split_tasks(base, 2, seed=3)
    assert sorted(c for g in shuffled.classes for c in g) == [0, 1, 2, 3]


def test_named_sequences_from_digits() -> None:
    seq = make_task_sequence("permuted-digits", 2, seed=0, n_train=100, n_test=50)
    assert len(seq) == 2 and seq[0].x_train.shape == (100, 1, 8, 8) and seq.n_features == 64
    split = make_task_sequence("split-digits", 5)
    assert len(split) == 5 and split.classes[0] == [0, 1] and split.n_classes == 2
    full = load_dataset("digits")
    assert sum(t.x_train.shape[0] for t in split) == full.x_train.shape[0]


def test_bad_sequences_raise_clear_errors() -> None:
    a = _toy(shape=(1, 3, 4))
    b = _toy(shape=(1, 4, 4))
    with pytest.raises(ConfigError, match=r"task 1 .* shape \(1, 4, 4\).*task 0 has \(1, 3, 4\)"):
        TaskSequence("bad", [a, b])
    with pytest.raises(ConfigError, match="classes"):
        TaskSequence("bad", [a, _toy(n_classes=3)])
    with pytest.raises(ConfigError, match="empty"):
        TaskSequence("bad", [])
    with pytest.raises(ConfigError, match="n_tasks=3"):
        split_tasks(a, 3)
    with pytest.raises(ConfigError, match="task sequence"):
        make_task_sequence("rotated-mnist", 3)
    with pytest.raises(ConfigError, match="n_tasks"):
        permuted_tasks(a, 0)
