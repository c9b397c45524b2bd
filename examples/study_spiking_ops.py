"""Study `spiking_ops` — LumenScopeAI (2024).

Spike-count approximations of matmul, softmax and SiLU converge to the float operators as T grows.
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("spiking_ops")
result = study.run(scale=scale, out_dir=f"reports/examples/spiking_ops/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
