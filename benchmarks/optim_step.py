"""Step time of ``MirrorDescent`` per potential for 10^7 parameters, relative to ``torch.optim.SGD`` (same momentum).

Targets without compilation (issues 3 and 18): euclidean at most 1.2x SGD, negentropy at most 1.3x, p-norm and
hyperbolic entropy at most 2x. Each case is timed side by side in one process (best of ``--repeats``, interleaved round-robin). Run:
``PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/optim_step.py [--numel 10000000] [--repeats 20]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from plasticity.geometry import MirrorDescent


def _params(numel: int, device: torch.device) -> list[torch.Tensor]:
    shapes = [(numel // 4,), (numel // 4,), (numel // 2,)]  # a few tensors, like layers
    out = []
    for s in shapes:
        p = (torch.rand(s, device=device) + 0.1).requires_grad_(True)
        p.grad = torch.randn(s, device=device) * 1e-3
        out.append(p)
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(cases: dict[str, object], numel: int, repeats: int, device: torch.device,
               clock=time.perf_counter) -> dict[str, float]:
    """Best step time per case. The cases are timed round-robin (one step of each per round), so a load change
    on a shared machine shifts every case alike and the ratios stay comparable."""
    opts = {}
    for name, make in cases.items():
        opt = make(_params(numel, device))  # type: ignore[operator]
        opt.step()  # warm-up (creates momentum buffers)
        opt.step()  # second warm-up (a compiled path compiles here, once its momentum buffers exist)
        opts[name] = opt
    _sync(device)
    best = dict.fromkeys(opts, float("inf"))
    for _ in range(repeats):
        for name, opt in opts.items():
            t0 = clock()
            opt.step()
            _sync(device)
            best[name] = min(best[name], clock() - t0)
    return best


def _compiled(make: object) -> object:
    """The same optimizer with ``compile=True`` (the warm-up steps of ``time_step`` pay the compilation)."""
    def build(ps: list[torch.Tensor]) -> MirrorDescent:
        opt = make(ps)  # type: ignore[operator]
        for g in opt.param_groups:
            g["compile"] = True
        return opt
    return build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--numel", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: process CPU time (steadier on a shared machine; CPU device only)")
    ap.add_argument("--compile", action="store_true",
                    help="also time each potential's compile=True path (one inductor-fused kernel per tensor)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dev = torch.device(args.device)
    mom = args.momentum
    cases = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=mom, foreach=True),
        "euclidean": lambda ps: MirrorDescent(ps, lr=1e-3, potential="euclidean", momentum=mom),
        "euclidean_blocked": lambda ps: MirrorDescent(ps, lr=1e-3, potential="euclidean", momentum=mom, foreach=False),
        "negentropy": lambda ps: MirrorDescent(ps, lr=1e-3, potential="negentropy", momentum=mom),
        "pnorm3": lambda ps: MirrorDescent(ps, lr=1e-3, potential="pnorm", momentum=mom, p=3.0),
        "pnorm2.5": lambda ps: MirrorDescent(ps, lr=1e-3, potential="pnorm", momentum=mom, p=2.5),
        "hypentropy": lambda ps: MirrorDescent(ps, lr=1e-3, potential="hypentropy", momentum=mom),
    }
    if args.compile:
        for name in ("euclidean", "negentropy", "pnorm3", "pnorm2.5", "hypentropy"):
            cases[f"{name}_compile"] = _compiled(cases[name])
    clock = time.process_time if args.clock == "cpu" and dev.type == "cpu" else time.perf_counter
    times = time_steps(cases, args.numel, args.repeats, dev, clock)
    targets = {"euclidean": 1.2, "euclidean_blocked": 1.2, "negentropy": 1.3, "pnorm3": 2.0, "pnorm2.5": 2.0,
               "hypentropy": 2.0}
    targets.update({f"{k}_compile": v for k, v in list(targets.items()) if k != "euclidean_blocked"})
    print(f"numel={args.numel:.0e} momentum={mom} device={dev} threads={torch.get_num_threads()} "
          f"clock={args.clock} (best of {args.repeats})")
    print(f"{'optimizer':<20}{'ms/step':>10}{'x SGD':>8}{'target':>8}")
    for k, t in times.items():
        tgt = targets.get(k)
        print(f"{k:<20}{1e3 * t:>10.2f}{t / times['sgd']:>8.2f}{(f'<={tgt}' if tgt else ''):>8}")


if __name__ == "__main__":
    main()
