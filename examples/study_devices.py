"""Study `devices` — Lim, Bae, Lee, Kwon, Park, Lee, Lee (2017).

with finite, nonlinear conductance steps, unidirectional (potentiation-only, paired devices) updates beat bidirectional ones; a linear high-resolution device is near software
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("devices")
result = study.run(scale=scale, out_dir=f"reports/examples/devices/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
