"""Study `arrows` — Papadopoulos, Wenger, Hongler (2024).

A language model's backward next-token loss is slightly but consistently higher than its forward loss.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("arrows")
result = study.run(scale=scale, out_dir=f"reports/examples/arrows/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
