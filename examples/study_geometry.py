"""Study `geometry` — Pogodin, Cornford, Ghosh, Gidel, Lajoie, Richards (2024).

the dual-space weight change is Gaussian only under the potential that matches the training rule, so trained
weights carry the geometry's fingerprint; exponentiated gradient keeps log-normal weights log-normal
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("geometry")
result = study.run(scale=scale, out_dir=f"reports/examples/geometry/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
