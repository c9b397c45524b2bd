"""Study `dfa` — Nøkland (2016); Launay et al. (2020).

DFA within about a point of BP; the optical co-processor costs little against digital DFA; DFA aligns with BP.
Recipes are chosen on a validation split carved from the training set; the test set is read once.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("dfa")
result = study.run(scale=scale, out_dir=f"reports/examples/dfa/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("deviations:", *result.deviations, sep="\n  - ")
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
