"""Study `symstdp` — Hao, Huang, Feng & Wang (2020).

Symmetric STDP with synaptic scaling, a dynamic threshold and a teacher signal on the output layer learns supervised classification in a two-layer SNN.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("symstdp")
result = study.run(scale=scale, out_dir=f"reports/examples/symstdp/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
