"""Study `ep` — Laborieux & Zenke (2024).

finite-nudge bias vanishes with holomorphic (Cauchy-integral) EP; weight asymmetry biases generalized EP; a Jacobian-homeostasis penalty restores performance
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("ep")
result = study.run(scale=scale, out_dir=f"reports/examples/ep/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
