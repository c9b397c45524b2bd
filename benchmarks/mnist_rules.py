"""MNIST, MLP 784-800-800-10: test accuracy of each rule after N epochs (issue 2: BP >= 98.0%, DFA >= 97.5%).

Reads the IDX files from --data-dir / $PLASTICITY_DATA (e.g. ../shared/data). Prints a table and writes
results.json + learning curves via the compare job. Usage:
  python benchmarks/mnist_rules.py --rules bp,dfa --epochs 10 [--device cuda]
DFA's tuned setting (issue 2 note; H200, seeds 0/1: 97.73/97.58%):
  python benchmarks/mnist_rules.py --rules bp,dfa --activation tanh --lr 0.05 --rule-kw dfa.feedback_scale=3
"""

from __future__ import annotations

import argparse

import torch

from plasticity.lab.compare import compare_rules


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rules", default="bp,dfa")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--out", default="reports/mnist_rules")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--rule-lr", default="", help="per-rule learning rates, e.g. dfa=0.1,fa=0.02")
    ap.add_argument("--rule-kw", default="", help="rule constructor arguments, e.g. dfa.feedback_scale=2")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rule_lr = {k: float(v) for k, v in (kv.split("=") for kv in args.rule_lr.split(",") if kv)}
    rule_kw: dict[str, dict[str, float]] = {}
    for kv in filter(None, args.rule_kw.split(",")):
        key, val = kv.split("=")
        rname, arg = key.split(".")
        rule_kw.setdefault(rname, {})[arg] = float(val)
    res = compare_rules(args.rules.split(","), dataset=args.dataset, epochs=args.epochs, hidden=(800, 800),
                        batch_size=args.batch_size, lr=args.lr, device=args.device, data_dir=args.data_dir,
                        out=args.out, activation=args.activation, rule_lr=rule_lr, rule_kwargs=rule_kw,
                        seed=args.seed)
    print(f"{args.dataset} MLP 784-800-800-10 ({args.activation}), {args.epochs} epochs, SGD(momentum 0.9, cosine), "
          f"batch {args.batch_size}, seed {args.seed}")
    print(f"{'rule':12s} {'lr':>6s} {'test acc %':>10s} {'angle°':>7s} {'ms/step':>8s}")
    for name, r in res["rules"].items():
        print(f"{name:12s} {r['lr']:6.3g} {100 * r['test_accuracy']:10.2f} {r['alignment_deg']:7.1f} "
              f"{r['ms_per_step']:8.2f}")


if __name__ == "__main__":
    main()
