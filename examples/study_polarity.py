"""Study `polarity` — Wang, Powell, Geisa, Bridgeford, Vogelstein (2023).

networks whose weight signs are frozen to a good pattern learn with fewer samples and epochs; random frozen
polarity helps only when the network is wide enough; polarity, not weight, transfers knowledge
Runs the `small` scale (minutes on CPU; PLASTICITY_SMOKE=1 for seconds) and prints each check: measured vs paper.
"""

import os

from plasticity.studies import get_study

scale = "smoke" if os.environ.get("PLASTICITY_SMOKE") else "small"
study = get_study("polarity")
result = study.run(scale=scale, out_dir=f"reports/examples/polarity/{scale}", quiet=True)
for check in result.checks:
    print(check.line())
print("figures:", [f"{result.out_dir}/{name}" for name in result.figures])
