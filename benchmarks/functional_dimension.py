"""Time the batch functional dimension (vmap+jacrev Jacobian and SVD rank) over MLP sizes; prints a table.

Timings on a shared CPU are noisy; the SVD of the tall (B·n_out × params) Jacobian dominates for
thousands of parameters (a [16, 64, 64, 4] net with 27k inputs took ~230 s on one core).
Usage: PYTHONPATH=src python benchmarks/functional_dimension.py
"""

from __future__ import annotations

import time

import torch

from plasticity.analysis.symmetries import dimension_bound, functional_dimension, sample_inputs
from plasticity.models import MLP


def main() -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    print(f"{'sizes':<24}{'params':>8}{'bound':>8}{'inputs':>8}{'rank':>8}{'log10 gap':>11}{'seconds':>9}")
    for sizes in ([2, 8, 1], [4, 16, 16, 1], [8, 32, 32, 32, 1]):
        torch.manual_seed(0)
        net = MLP(sizes)
        n = 20 * dimension_bound(net) // sizes[-1]
        x = sample_inputs(n, sizes[0], g)
        t0 = time.perf_counter()
        fd = functional_dimension(net, x)
        dt = time.perf_counter() - t0
        gap = float(torch.tensor(fd.gap).log10())
        print(f"{sizes!s:<24}{fd.n_params:>8}{fd.bound:>8}{n:>8}{fd.rank:>8}{gap:>11.1f}{dt:>9.2f}")


if __name__ == "__main__":
    main()
