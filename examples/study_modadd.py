"""Study `modadd` — He et al. (2025).

Two-layer nets learn single-frequency Fourier neurons with aligned phases; with weight decay on partial data, test accuracy rises long after training accuracy saturates (grokking).
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("modadd")
result = study.run(scale=scale, out_dir=f"reports/examples/modadd/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
