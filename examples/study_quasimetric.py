"""Study `quasimetric` — T. Wang, P. Isola (2022).

Unconstrained MLPs do not learn quasimetrics consistently; Poisson Quasimetric Embeddings generalise better on held-out pairs and satisfy the triangle inequality by construction.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("quasimetric")
result = study.run(scale=scale, out_dir=f"reports/examples/quasimetric/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
