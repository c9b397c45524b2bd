"""Study `symmetries` — J. E. Grigsby, K. Lindsey, D. Rolnick (2023).

The probability that a random ReLU net has no hidden symmetries (functional dimension = #params − #hidden neurons) falls towards 0 with depth and rises towards 1 with width and input dimension.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("symmetries")
result = study.run(scale=scale, out_dir=f"reports/examples/symmetries/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
