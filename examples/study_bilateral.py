"""Study `bilateral` — Rinaldo, Kuhlmann, Friedman & Kowadlo (2024).

hemispheres trained with different losses specialise on behavioural measures; a bilateral model is at least
as good as the preferred hemisphere on each task and better than the non-preferred one
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("bilateral")
result = study.run(scale=scale, out_dir=f"reports/examples/bilateral/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
