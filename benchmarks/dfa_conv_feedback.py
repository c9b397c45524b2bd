"""Structured vs dense DFA feedback for convolutional layers: feedback memory on a small residual CNN and test
accuracy of a small conv net on digits (BP as the reference, same optimiser and schedule for every rule).

Dense DFA stores one (C·H·W) x classes matrix per tapped layer; the structured feedback stores a spatial pattern
(classes x H x W) and a k x k kernel (C x classes x k x k) per conv tap. Run:
``PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/dfa_conv_feedback.py [--epochs 20] [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from plasticity.data import load_dataset
from plasticity.lab.trainer import Trainer, evaluate
from plasticity.models import ConvNet
from plasticity.rules import DirectFeedbackAlignment, make_rule, plastic_layers
from plasticity.utils import seed_everything


class Block(nn.Module):
    """conv-relu-conv plus identity (or 1x1 strided projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.c2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.short = nn.Conv2d(c_in, c_out, 1, stride=stride) if stride != 1 or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x if self.short is None else self.short(x)
        return torch.relu(self.c2(torch.relu(self.c1(x))) + s)


class SmallResNet(nn.Module):
    """A CIFAR-sized residual CNN: stem 16 ch at 32x32, one block per stage (16, 32, 64), pooled readout."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.readout = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.blocks(torch.relu(self.stem(x))).mean((2, 3)))


def tap_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """Input shape (without batch) of every plastic layer except the first (the layers DFA feeds)."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    hooks = [m.register_forward_pre_hook(lambda m, i, n=n: shapes.append((n, tuple(i[0].shape[1:]))))
             for n, m in plastic_layers(model)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return shapes[1:]


def feedback_numel(shapes: list[tuple[str, tuple[int, ...]]], classes: int, k: int) -> tuple[int, int]:
    """(dense, structured) numbers of feedback entries for these taps."""
    dense = sum(math.prod(s) * classes for _, s in shapes)
    structured = sum(classes * math.prod(s[1:]) + s[0] * classes * k * k if len(s) == 3 else math.prod(s) * classes
                     for _, s in shapes)
    return dense, structured


def memory_table(k: int) -> None:
    print("feedback memory (float32), small residual CNN, 3x32x32 input")
    print(f"{'classes':>8}{'dense MiB':>12}{'structured MiB':>16}{'ratio':>8}")
    for classes in (10, 100, 1000):
        model = SmallResNet(classes)
        dense, structured = feedback_numel(tap_shapes(model, torch.zeros(1, 3, 32, 32)), classes, k)
        print(f"{classes:>8}{4 * dense / 2**20:>12.2f}{4 * structured / 2**20:>16.3f}{dense / structured:>8.1f}")
    # the analytic count equals what the rules allocate (checked at 10 classes)
    model = SmallResNet(10)
    x, y = torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,))
    counts = []
    for fb in ("dense", "structured"):
        rule = DirectFeedbackAlignment(feedback=fb, kernel_size=k)
        rule.step(model, x, y)
        counts.append(rule.feedback_numel())
    want = feedback_numel(tap_shapes(model, x), 10, k)
    print(f"allocated by the rules at 10 classes: dense {counts[0]}, structured {counts[1]} "
          f"(analytic {want[0]}, {want[1]})")


def accuracy_table(epochs: int, seeds: list[int], lr: float, k: int) -> None:
    data = load_dataset("digits")
    rules = {"bp": {}, "dfa dense": {"feedback": "dense"}, "dfa structured": {"feedback": "structured",
                                                                              "kernel_size": k}}
    print(f"\ndigits, ConvNet((1,8,8), channels=(16, 32), hidden=64), Adam lr={lr}, {epochs} epochs, batch 32; "
          "test accuracy (read once at the end)")
    print(f"{'rule':<16}" + "".join(f"{'seed ' + str(s):>9}" for s in seeds) + f"{'mean':>8}{'s/run':>8}")
    for label, kw in rules.items():
        accs, secs = [], []
        for s in seeds:
            seed_everything(s)
            model = ConvNet((1, 8, 8), channels=(16, 32), hidden=64, n_classes=10)
            rule = make_rule("bp", seed=s) if label == "bp" else make_rule("dfa", seed=s, **kw)
            t0 = time.perf_counter()
            Trainer(model, rule, torch.optim.Adam(model.parameters(), lr=lr), data, epochs=epochs, batch_size=32,
                    seed=s).fit()
            secs.append(time.perf_counter() - t0)
            accs.append(evaluate(model, data.x_test, data.y_test)["accuracy"])
        print(f"{label:<16}" + "".join(f"{a:>9.3f}" for a in accs) + f"{sum(accs) / len(accs):>8.3f}"
              f"{sum(secs) / len(secs):>8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    memory_table(args.kernel)
    if not args.skip_accuracy:
        accuracy_table(args.epochs, args.seeds, args.lr, args.kernel)


if __name__ == "__main__":
    main()
