"""Study `disinhibition` — Rossbroich & Zenke (2023).

Top-down dis-inhibition sets the sign of a Hebbian rule (flip at the target rate, BCM-like without top-down input), and this does credit assignment in hidden layers close to backprop.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("disinhibition")
result = study.run(scale=scale, out_dir=f"reports/examples/disinhibition/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
