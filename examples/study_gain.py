"""Study `gain` — Duong, Bredenberg, Heeger & Simoncelli (2023).

single-neuron gain changes propagated through a recurrent network reproduce adaptation effects: reduced responses near the adapter, tuning repulsion, response decorrelation
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("gain")
result = study.run(scale=scale, out_dir=f"reports/examples/gain/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
