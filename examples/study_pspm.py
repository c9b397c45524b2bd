"""Study `pspm` — Bagley, Bordelon, Moseley & Wessel (2020).

Stochastic pre-synaptic pool updates make a recurrent LIF network reproduce target spike trains, while the learned weights need not match those of the network that generated the targets.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("pspm")
result = study.run(scale=scale, out_dir=f"reports/examples/pspm/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
