"""The in-memory dataset container every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TaskData:
    """Train/test tensors plus what a model needs to know: input shape and number of classes (0 = regression)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    input_shape: tuple[int, ...]
    n_classes: int

    @property
    def n_features(self) -> int:
        n = 1
        for s in self.input_shape:
            n *= s
        return n

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.n_classes else (self.y_train.shape[1] if self.y_train.dim() > 1 else 1)

    def to(self, device: torch.device | str) -> TaskData:
        """Move all tensors to ``device`` (datasets here are small enough to live there)."""
        return TaskData(self.name, self.x_train.to(device), self.y_train.to(device), self.x_test.to(device),
                        self.y_test.to(device), self.input_shape, self.n_classes)

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> TaskData:
        """First ``n_train``/``n_test`` examples (loaders shuffle deterministically, so this is a random subset)."""
        return TaskData(self.name, self.x_train[:n_train], self.y_train[:n_train], self.x_test[:n_test],
                        self.y_test[:n_test], self.input_shape, self.n_classes)
