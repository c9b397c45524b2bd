"""Simulated neuron-steps per second of a recurrent LIF layer (default: 1000 neurons, batch 64, 500 steps),
on CPU and on CUDA when available, compared with snnTorch's ``Leaky`` neuron (plus a recurrent matmul) when
snnTorch is installed. Prints a table; no assertions.

    PYTHONPATH=src python benchmarks/lif_throughput.py [--neurons 1000 --batch 64 --steps 500 --repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from plasticity.spiking.layers import RecurrentLIFLayer
from plasticity.spiking.neurons import LIFParameters


def _time(fn: Callable[[], None], device: torch.device, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def ours(n: int, batch: int, steps: int, device: torch.device) -> Callable[[], None]:
    layer = RecurrentLIFLayer(n, n, LIFParameters(tau_syn=0.0)).to(device)
    x = (torch.rand(steps, batch, n, device=device) < 0.05).float()

    @torch.no_grad()
    def run() -> None:
        layer(x)

    return run


def snntorch_leaky(n: int, batch: int, steps: int, device: torch.device) -> Callable[[], None] | None:
    try:
        import snntorch as snn
    except ImportError:
        return None
    fc, rec = torch.nn.Linear(n, n, bias=False).to(device), torch.nn.Linear(n, n, bias=False).to(device)
    lif = snn.Leaky(beta=0.95).to(device)
    x = (torch.rand(steps, batch, n, device=device) < 0.05).float()

    @torch.no_grad()
    def run() -> None:
        mem = lif.init_leaky()
        cur = fc(x)
        spk = torch.zeros(batch, n, device=device)
        for t in range(steps):
            spk, mem = lif(cur[t] + rec(spk), mem)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    work = a.neurons * a.batch * a.steps
    print(f"recurrent LIF, {a.neurons} neurons, batch {a.batch}, {a.steps} steps ({torch.get_num_threads()} threads)")
    print(f"{'device':8} {'impl':12} {'seconds':>9} {'neuron-steps/s':>16}")
    for dev in devices:
        for name, make in (("plasticity", ours), ("snntorch", snntorch_leaky)):
            fn = make(a.neurons, a.batch, a.steps, dev)
            if fn is None:
                print(f"{dev.type:8} {name:12} {'(snnTorch not installed: skipped)':>26}")
                continue
            s = _time(fn, dev, a.repeats)
            print(f"{dev.type:8} {name:12} {s:9.3f} {work / s:16.3e}")


if __name__ == "__main__":
    main()
