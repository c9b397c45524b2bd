"""Median training-step time of each rule relative to backprop (MLP 784-1000-1000-10, batch 128).

Targets (issue 2): FA and sign symmetry <= 1.15x BP, DFA <= 1.05x BP. Prints a table; no assertions.
Usage: python benchmarks/step_time.py [--device cpu|cuda] [--repeats 50] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import plasticity as P


class _Setup:
    """One rule's model, optimizer and fixed batch, so steps of all rules can be interleaved."""

    def __init__(self, name: str, device: torch.device, sizes: list[int], batch: int) -> None:
        torch.manual_seed(0)
        self.model = P.MLP(sizes).to(device)
        self.rule = P.make_rule(name, seed=0)
        self.rule.prepare(self.model)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=1e-3)
        self.x = torch.rand(batch, sizes[0], device=device)
        self.y = torch.randint(0, sizes[-1], (batch,), device=device)
        self.device = device

    def step_time(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        self.rule.step(self.model, self.x, self.y)
        self.opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--rules", default="bp,fa,sign,dfa,dfa-optical")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sizes, batch = [784, 1000, 1000, 10], 128
    names = args.rules.split(",")
    # interleave single steps of all rules so machine load affects every rule alike
    setups = {n: _Setup(n, dev, sizes, batch) for n in names}
    med: dict[str, list[float]] = {n: [] for n in names}
    for i in range(3 * args.repeats + 5):
        for n in names:
            t = setups[n].step_time()
            if i >= 5:
                med[n].append(t)
    base = statistics.median(med["bp"]) if "bp" in med else None
    targets = {"fa": 1.15, "sign": 1.15, "dfa": 1.05}
    print(f"MLP {sizes}, batch {batch}, device {dev}, threads {torch.get_num_threads()}")
    print(f"{'rule':12s} {'median ms':>10s} {'x BP':>6s} {'target':>7s}")
    for n in names:
        m = statistics.median(med[n])
        rel = m / base if base else float("nan")
        tgt = f"<={targets[n]:.2f}" if n in targets else "-"
        print(f"{n:12s} {1000 * m:10.2f} {rel:6.2f} {tgt:>7s}")


if __name__ == "__main__":
    main()
