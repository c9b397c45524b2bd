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


def time_rule(name: str, device: torch.device, repeats: int, sizes: list[int], batch: int) -> float:
    torch.manual_seed(0)
    model = P.MLP(sizes).to(device)
    rule = P.make_rule(name, seed=0)
    rule.prepare(model)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.rand(batch, sizes[0], device=device)
    y = torch.randint(0, sizes[-1], (batch,), device=device)
    times = []
    for i in range(repeats + 5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        rule.step(model, x, y)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 5:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
    # interleave repetitions so machine load affects all rules alike
    med: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(3):
        for n in names:
            med[n].append(time_rule(n, dev, args.repeats, sizes, batch))
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
