"""Study `hlop` — Xiao, Meng, Zhang, He & Lin (2024).

Lateral Hebbian/anti-Hebbian neurons learn the principal subspace of each layer's past activity; projecting updates orthogonal to it removes forgetting, for BP and for FA / sign-symmetry rules.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("hlop")
result = study.run(scale=scale, out_dir=f"reports/examples/hlop/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
