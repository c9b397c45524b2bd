"""Study `dendrites` — Ahmad & Hawkins (2016).

the false-match probability sum_{b>=theta} C(s,b)C(n-s,a-b)/C(n,a) of a dendritic segment is tiny for sparse codes, and stays small for unions of patterns on one segment
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("dendrites")
result = study.run(scale=scale, out_dir=f"reports/examples/dendrites/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
