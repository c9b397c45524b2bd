"""Study `chinchilla` — Open-Athena (2026).

IsoFLOP parabola fits (approach 2) are biased when α ≠ β or sampling is off-centre; variable projection is not.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("chinchilla")
result = study.run(scale=scale, out_dir=f"reports/examples/chinchilla/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
