"""Time and peak memory of a 784 -> 512 -> 10 LIF network (first-order LIF, zero reset, membrane decay 0.95
per step, one thread) against snnTorch, Norse and SpikingJelly, each skipped when not installed. Every
library runs its idiomatic fastest CPU path: ours ``LIFLayer`` (one matmul over all steps, fused time loop);
snnTorch ``Leaky`` in a Python loop over steps (its tutorials' pattern); Norse ``LIFBoxCell`` in a loop;
SpikingJelly ``layer.Linear`` + ``neuron.LIFNode`` in multi-step mode ``'m'``. Times are interleaved
(round-robin over libraries in every repeat) and reported as ratios to snnTorch with min-max over repeats.

Peak memory: a fresh subprocess per size and repeat builds each library's net and input in turn (order
rotated per repeat), runs the pass once to warm up, resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``), runs the pass again and reports VmHWM - VmRSS-before (MiB). glibc's mmap
threshold is pinned low (16 KiB, ``MALLOC_MMAP_THRESHOLD_``) so freed blocks go back to the OS and RSS
follows the live set. torch's CPU allocator has no peak counter and tracemalloc does not see torch's
memory, hence RSS; at T=25, B=32 one [T, B, 512] float buffer is only 1.6 MiB, near this method's noise.

Peers live in a side venv so that they never replace our torch:
    python3 -m venv /work/peers-spiking && /work/peers-spiking/bin/pip install torch==2.13.0
    /work/peers-spiking/bin/pip install --no-deps snntorch norse spikingjelly
    /work/peers-spiking/bin/pip install --no-deps numpy loguru nir nirtorch h5py   # what their imports need
Run with our venv; ``--peers-site`` appends the side venv's site-packages *after* ours (torch stays ours):
    .venv/bin/python benchmarks/lif_throughput.py --peers-site /work/peers-spiking/lib/python3.11/site-packages
Prints tables; no assertions. ``--compile`` adds our ``torch.compile`` path and its compile cost.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from plasticity.spiking.layers import LIFLayer
from plasticity.spiking.neurons import LIFParameters

N_IN, N_HID, N_OUT = 784, 512, 10
BETA = 0.95                     # membrane decay per step, the same for every library
SIZES = ((100, 128), (25, 32))  # (T, B)

Pass = Callable[[], None]


def _data(T: int, B: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(T, B, N_IN, generator=g) < 0.2).float()   # Poisson-like input spikes
    y = torch.randint(0, N_OUT, (B,), generator=g)
    return x, y


def _passes(run: Callable[[torch.Tensor], torch.Tensor], params: list[torch.nn.Parameter], x: torch.Tensor,
            y: torch.Tensor) -> tuple[Pass, Pass]:
    """Forward under no_grad, and forward+backward of cross-entropy on output spike counts."""
    def fwd() -> None:
        with torch.no_grad():
            run(x)

    def fwd_bwd() -> None:
        for p in params:
            p.grad = None
        F.cross_entropy(run(x).sum(0), y).backward()
    return fwd, fwd_bwd


def ours(T: int, B: int, compile: bool = False, chunk: int | None = None) -> tuple[Pass, Pass]:
    """Our layers; ``chunk`` feeds the sequence ``chunk`` steps at a time, carrying the state (streaming)."""
    p = LIFParameters(tau_mem=-1.0 / math.log(BETA), tau_syn=0.0, reset="zero")
    l1, l2 = LIFLayer(N_IN, N_HID, p, compile=compile), LIFLayer(N_HID, N_OUT, p, compile=compile)

    def run(x: torch.Tensor) -> torch.Tensor:
        if chunk is None:
            return l2(l1(x)[0])[0]
        s1 = s2 = None
        out = []
        for xc in x.split(chunk):
            z1, s1 = l1(xc, s1)
            z2, s2 = l2(z1, s2)
            out.append(z2)
        return torch.cat(out)
    return _passes(run, [*l1.parameters(), *l2.parameters()], *_data(T, B))


def snntorch_(T: int, B: int) -> tuple[Pass, Pass] | None:
    try:
        import snntorch as snn
    except ImportError:
        return None
    fc1, fc2 = torch.nn.Linear(N_IN, N_HID), torch.nn.Linear(N_HID, N_OUT)
    lif1, lif2 = snn.Leaky(beta=BETA, reset_mechanism="zero"), snn.Leaky(beta=BETA, reset_mechanism="zero")

    def run(x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = lif1.init_leaky(), lif2.init_leaky()
        out = []
        for x_t in x:
            spk1, mem1 = lif1(fc1(x_t), mem1)
            spk2, mem2 = lif2(fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)
    return _passes(run, [*fc1.parameters(), *fc2.parameters()], *_data(T, B))


def norse_(T: int, B: int) -> tuple[Pass, Pass] | None:
    try:
        from norse.torch import LIFBoxCell, LIFBoxParameters
    except ImportError:
        return None
    fc1, fc2 = torch.nn.Linear(N_IN, N_HID), torch.nn.Linear(N_HID, N_OUT)
    p = LIFBoxParameters(tau_mem_inv=torch.as_tensor((1 - BETA) / 1e-3))   # dt = 1e-3: v decays by BETA
    lif1, lif2 = LIFBoxCell(p), LIFBoxCell(p)

    def run(x: torch.Tensor) -> torch.Tensor:
        s1 = s2 = None
        out = []
        for x_t in x:
            z1, s1 = lif1(fc1(x_t), s1)
            z2, s2 = lif2(fc2(z1), s2)
            out.append(z2)
        return torch.stack(out)
    return _passes(run, [*fc1.parameters(), *fc2.parameters()], *_data(T, B))


def spikingjelly_(T: int, B: int) -> tuple[Pass, Pass] | None:
    try:
        from spikingjelly.activation_based import functional, layer, neuron
    except ImportError:
        return None
    tau = 1.0 / (1.0 - BETA)
    net = torch.nn.Sequential(layer.Linear(N_IN, N_HID), neuron.LIFNode(tau=tau),
                              layer.Linear(N_HID, N_OUT), neuron.LIFNode(tau=tau))
    functional.set_step_mode(net, "m")

    def run(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(net)
        return net(x)
    return _passes(run, list(net.parameters()), *_data(T, B))


IMPLS: dict[str, Callable[[int, int], tuple[Pass, Pass] | None]] = {
    "plasticity": ours, "plasticity/chunk5": lambda T, B: ours(T, B, chunk=5),
    "snntorch": snntorch_, "norse": norse_, "spikingjelly": spikingjelly_}


def _timed(fn: Pass) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_table(repeats: int, compile: bool) -> None:
    impls = dict(IMPLS)
    if compile:
        impls["plasticity+compile"] = lambda T, B: ours(T, B, compile=True)
    for T, B in SIZES:
        built = {name: make(T, B) for name, make in impls.items()}
        missing = [n for n, f in built.items() if f is None]
        runs = {n: f for n, f in built.items() if f is not None}
        compile_s = {}
        for name, (fwd, fb) in runs.items():     # warm-up (and, for compile, the compile itself)
            compile_s[name] = _timed(fb) + _timed(fwd)
        times: dict[str, dict[str, list[float]]] = {n: {"fwd": [], "fwd+bwd": []} for n in runs}
        for r in range(repeats):
            order = list(runs)[r % len(runs):] + list(runs)[:r % len(runs)]
            for name in order:
                fwd, fb = runs[name]
                times[name]["fwd"].append(_timed(fwd))
                times[name]["fwd+bwd"].append(_timed(fb))
        print(f"\nT={T}, B={B}, {N_IN}->{N_HID}->{N_OUT} LIF, {torch.get_num_threads()} thread(s), {repeats} repeats"
              + (f"; not installed: {', '.join(missing)}" if missing else ""))
        print(f"{'library':20} {'pass':8} {'median s':>9} {'x snnTorch (median, min-max)':>30}")
        for name in runs:
            for kind in ("fwd", "fwd+bwd"):
                ts = times[name][kind]
                row = f"{name:20} {kind:8} {statistics.median(ts):9.4f}"
                if "snntorch" in runs:
                    ratios = [a / b for a, b in zip(ts, times["snntorch"][kind], strict=True)]
                    row += f" {statistics.median(ratios):10.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
                print(row)
        if compile:
            print(f"first call (compile + run) of plasticity+compile: {compile_s['plasticity+compile']:.1f} s; "
                  f"eager plasticity first call: {compile_s['plasticity']:.2f} s")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _peak_kib(fn: Pass) -> int:
    """Peak RSS increase (KiB) of one call of ``fn``, after a warm-up call."""
    fn()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    fn()
    return _status_kib("VmHWM") - before


def mem_child(T: int, B: int, shift: int) -> None:
    """Subprocess body: for every library (order rotated by ``shift``) and pass, build afresh and print
    ``name pass KiB``; each measurement is relative to the RSS just before it."""
    torch.set_num_threads(1)
    names = list(IMPLS)
    for name in names[shift % len(names):] + names[:shift % len(names)]:
        for i, kind in enumerate(("fwd", "fwd+bwd")):
            made = IMPLS[name](T, B)
            print(name, kind, "nan" if made is None else _peak_kib(made[i]), flush=True)
            del made
            gc.collect()


def memory_table(repeats: int, peers_site: str | None) -> None:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="16384", OMP_NUM_THREADS="1")
    for T, B in SIZES:
        res: dict[tuple[str, str], list[float]] = {}
        for r in range(repeats):
            cmd = [sys.executable, __file__, "--mem-child", str(T), str(B), str(r)]
            if peers_site:
                cmd += ["--peers-site", peers_site]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] in IMPLS:
                    res.setdefault((parts[0], parts[1]), []).append(float(parts[2]) / 1024)
        print(f"\npeak memory, T={T}, B={B}: peak RSS increase of one pass after a warm-up (MiB), {repeats} subprocesses")
        print(f"{'library':18} {'pass':8} {'MiB (min-max)':>20} {'x snnTorch':>11}")
        for name in IMPLS:
            for kind in ("fwd", "fwd+bwd"):
                ms = res[(name, kind)]
                if any(math.isnan(m) for m in ms):
                    print(f"{name:18} {kind:8} {'not installed':>20}")
                    continue
                ref = res.get(("snntorch", kind))
                ratio = "" if ref is None or any(math.isnan(m) for m in ref) else \
                    f"{statistics.median(ms) / statistics.median(ref):11.2f}"
                print(f"{name:18} {kind:8} {statistics.median(ms):8.1f} ({min(ms):.1f}-{max(ms):.1f}) {ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--mem-repeats", type=int, default=3)
    ap.add_argument("--peers-site", default=None, help="site-packages of the peers' side venv (appended to sys.path)")
    ap.add_argument("--compile", action="store_true", help="also time our torch.compile path and its compile cost")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-time", action="store_true")
    ap.add_argument("--mem-child", nargs=3, metavar=("T", "B", "SHIFT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peers_site:
        sys.path.append(a.peers_site)
    torch.set_num_threads(1)
    if a.mem_child:
        T, B, shift = a.mem_child
        mem_child(int(T), int(B), int(shift))
        return
    if not a.skip_time:
        time_table(a.repeats, a.compile)
    if not a.skip_memory:
        memory_table(a.mem_repeats, a.peers_site)


if __name__ == "__main__":
    main()
