"""Task sequences for continual learning, each task a ``TaskData`` built from a seed.

Permuted tasks (Goodfellow et al. 2013; the PMNIST benchmark of GEM/GPM/HLOP) shuffle the input pixels with
one fixed permutation per task; split tasks (Zenke et al. 2017) give each task a disjoint group of classes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from ..data.registry import load_dataset
from ..data.task import TaskData
from ..errors import ConfigError, check_choice, check_range

SEQUENCES = ("permuted-digits", "permuted-mnist", "permuted-fashion-mnist",
             "split-digits", "split-mnist", "split-fashion-mnist")


@dataclass
class TaskSequence:
    """An ordered list of tasks sharing one input shape (checked) and one output size.

    ``classes[t]`` lists the original labels of task t (all ten for permuted tasks). All tasks must have the
    same ``input_shape`` and ``n_classes``: a network with a shared head sees every task.
    """

    name: str
    tasks: list[TaskData]
    classes: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ConfigError(f"task sequence {self.name!r} is empty; allowed: at least 1 task")
        shape, n_cls = self.tasks[0].input_shape, self.tasks[0].n_classes
        for t, task in enumerate(self.tasks):
            if tuple(task.input_shape) != tuple(shape) or tuple(task.x_train.shape[1:]) != tuple(shape) \
                    or tuple(task.x_test.shape[1:]) != tuple(shape):
                raise ConfigError(
                    f"task {t} ({task.name!r}) has inputs of shape {tuple(task.x_train.shape[1:])} but task 0 "
                    f"has {tuple(shape)}; all tasks of a sequence must share one input shape")
            if task.n_classes != n_cls:
                raise ConfigError(f"task {t} ({task.name!r}) has {task.n_classes} classes but task 0 has {n_cls}; "
                                  "all tasks of a sequence must share one output size")
        if not self.classes:
            self.classes = [list(range(n_cls)) for _ in self.tasks]

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[TaskData]:
        return iter(self.tasks)

    def __getitem__(self, i: int) -> TaskData:
        return self.tasks[i]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.tasks[0].input_shape)

    @property
    def n_features(self) -> int:
        return self.tasks[0].n_features

    @property
    def n_classes(self) -> int:
        return self.tasks[0].n_classes


def permuted_tasks(base: TaskData, n_tasks: int, seed: int = 0, identity_first: bool = False) -> TaskSequence:
    """``n_tasks`` copies of ``base`` whose pixels are shuffled by one fixed permutation per task.

    Task t's permutation is drawn from ``seed`` and ``t`` only, so a sequence is reproducible and a longer
    sequence extends a shorter one. ``identity_first`` keeps task 0 unpermuted.
    """
    check_range("n_tasks", n_tasks, 1)
    n = base.n_features
    tasks = []
    for t in range(int(n_tasks)):
        if t == 0 and identity_first:
            perm = torch.arange(n)
        else:
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed) * 1_000_003 + 7919 * t + 1))

        def shuffle(x: torch.Tensor, perm: torch.Tensor = perm) -> torch.Tensor:
            return x.reshape(x.shape[0], -1)[:, perm.to(x.device)].reshape(x.shape)

        tasks.append(TaskData(f"{base.name}-perm{t}", shuffle(base.x_train), base.y_train.clone(),
                              shuffle(base.x_test), base.y_test.clone(), tuple(base.input_shape), base.n_classes))
    return TaskSequence(f"permuted-{base.name}", tasks)


def split_tasks(base: TaskData, n_tasks: int, seed: int | None = None, relabel: bool = True) -> TaskSequence:
    """Split ``base``'s classes into ``n_tasks`` disjoint groups of equal size, one task per group.

    Classes go in label order when ``seed`` is None, else in an order shuffled by ``seed``. With ``relabel``
    (default) each task's labels become 0..k-1, so one shared k-way head serves every task (domain-incremental,
    as PMNIST); without it the labels stay the original ones and the head keeps ``base.n_classes`` outputs.
    """
    check_range("n_tasks", n_tasks, 1)
    n_cls = base.n_classes
    if n_cls < 2:
        raise ConfigError(f"dataset {base.name!r} has n_classes={n_cls}; split tasks need a classification dataset")
    if n_cls % int(n_tasks) or n_cls // int(n_tasks) < 2:
        raise ConfigError(f"n_tasks={n_tasks} does not split {n_cls} classes into equal groups of at least 2; "
                          f"allowed: a divisor of {n_cls} up to {n_cls // 2}")
    order = list(range(n_cls)) if seed is None else \
        torch.randperm(n_cls, generator=torch.Generator().manual_seed(int(seed))).tolist()
    k = n_cls // int(n_tasks)
    tasks, classes = [], []
    for t in range(int(n_tasks)):
        group = order[t * k : (t + 1) * k]
        lut = torch.full((n_cls,), -1, dtype=torch.long)
        lut[torch.tensor(group)] = torch.arange(k) if relabel else torch.tensor(group)

        def pick(x: torch.Tensor, y: torch.Tensor, lut: torch.Tensor = lut) -> tuple[torch.Tensor, torch.Tensor]:
            keep = lut.to(y.device)[y] >= 0
            return x[keep], lut.to(y.device)[y[keep]]

        xtr, ytr = pick(base.x_train, base.y_train)
        xte, yte = pick(base.x_test, base.y_test)
        tasks.append(TaskData(f"{base.name}-split{t}", xtr, ytr, xte, yte, tuple(base.input_shape),
                              k if relabel else n_cls))
        classes.append(list(group))
    return TaskSequence(f"split-{base.name}", tasks, classes)


def make_task_sequence(name: str, n_tasks: int, seed: int = 0, data_dir: str | os.PathLike | None = None,
                       n_train: int | None = None, n_test: int | None = None,
                       shuffle_classes: bool = False) -> TaskSequence:
    """Build a named sequence (``SEQUENCES``): 'permuted-<dataset>' or 'split-<dataset>'.

    Permutations come from ``seed``; split tasks take classes in label order (0/1, 2/3, ...) unless
    ``shuffle_classes``, which orders them by ``seed``.
    ``n_train``/``n_test`` keep the first examples of the base dataset (a seeded random subset for digits,
    the files' order for MNIST) before the tasks are made.
    """
    check_choice("task sequence", name, SEQUENCES)
    kind, dataset = name.split("-", 1)
    base = load_dataset(dataset, data_dir=data_dir)
    if n_train is not None or n_test is not None:
        base = base.subset(n_train, n_test)
    if kind == "permuted":
        return permuted_tasks(base, n_tasks, seed)
    return split_tasks(base, n_tasks, seed=seed if shuffle_classes else None)


def check_sequence(tasks: Sequence[TaskData] | TaskSequence) -> TaskSequence:
    """Wrap a plain list of tasks as a ``TaskSequence`` (raising on mismatched shapes)."""
    return tasks if isinstance(tasks, TaskSequence) else TaskSequence("custom", list(tasks))
