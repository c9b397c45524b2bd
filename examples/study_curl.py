"""Study `curl` — Ninou, Kadmon & Cayco-Gajic (2025).

Rule-flipped input units add curl to the learning flow (both layers renormalised after every step, as the
reference does): below a critical fraction the teacher solution stays stable and is learned, beyond it it is
destabilised; the critical fraction grows with the expansion ratio; curl can speed convergence.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("curl")
result = study.run(scale=scale, out_dir=f"reports/examples/curl/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
