"""Time per EP training step relative to a BP(TT) step on the same EnergyMLP, and its scaling with T1 + T2.

EP's cost is the free phase (T1 steps) plus one nudged phase of T2 steps per nudge (hEP without noise relaxes
only N/2 + 1 of its N nudges, the rest being complex conjugates); a fit of time vs total relaxation steps
should be linear. Run: ``PYTHONPATH=src python benchmarks/ep_step.py [--sizes 64,128,128,10] [--batch 20]``.
Timings on a shared machine are noisy; the median of ``--repeats`` runs is reported.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from plasticity.models.energy import EnergyMLP
from plasticity.rules.backprop import Backprop
from plasticity.rules.base import LearningRule
from plasticity.rules.ep import ClassicEP, HolomorphicEP, SymmetricEP


def time_step(rule: LearningRule, model: EnergyMLP, x: torch.Tensor, y: torch.Tensor, repeats: int) -> float:
    """Median seconds of one ``rule.step`` (after one warm-up step)."""
    rule.step(model, x, y)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rule.step(model, x, y)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,128,128,10")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--T1", type=int, default=30)
    ap.add_argument("--T2", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    sizes = [int(v) for v in args.sizes.split(",")]
    x, y = torch.rand(args.batch, sizes[0]), torch.randint(0, sizes[-1], (args.batch,))

    model = EnergyMLP(sizes, T1=args.T1, T2=args.T2)
    bp = time_step(Backprop(), model, x, y, args.repeats)
    print(f"EnergyMLP {sizes}, batch {args.batch}, T1={args.T1}, T2={args.T2}")
    print(f"{'rule':<22}{'phases':>7}{'ms/step':>10}{'x BP(TT)':>10}")
    print(f"{'BP(TT)':<22}{'-':>7}{1e3 * bp:>10.2f}{1.0:>10.2f}")
    rules = {"classic EP": ClassicEP(0.1), "symmetric EP": SymmetricEP(0.1), "hEP N=4": HolomorphicEP(0.5, n=4),
             "hEP N=10": HolomorphicEP(0.5, n=10)}
    for name, rule in rules.items():
        t = time_step(rule, model, x, y, args.repeats)
        print(f"{name:<22}{len(rule.phases(model, x, y, model.relax(x))):>7}{1e3 * t:>10.2f}{t / bp:>10.2f}")

    print("\nscaling with T1 + T2 (symmetric EP, T2 = T1 / 3)")
    print(f"{'T1':>6}{'T2':>6}{'T1+2*T2':>9}{'ms/step':>10}")
    steps, secs = [], []
    for t1 in (15, 30, 60, 120, 240):
        t2 = t1 // 3
        model.T1, model.T2 = t1, t2
        t = time_step(SymmetricEP(0.1), model, x, y, args.repeats)
        steps.append(t1 + 2 * t2)
        secs.append(t)
        print(f"{t1:>6}{t2:>6}{t1 + 2 * t2:>9}{1e3 * t:>10.2f}")
    slope, intercept = np.polyfit(steps, secs, 1)
    pred = np.polyval([slope, intercept], steps)
    r2 = 1 - float(np.sum((np.array(secs) - pred) ** 2) / np.sum((np.array(secs) - np.mean(secs)) ** 2))
    print(f"linear fit: {1e6 * slope:.1f} us per relaxation step + {1e3 * intercept:.2f} ms overhead (R^2 = {r2:.4f})")


if __name__ == "__main__":
    main()
