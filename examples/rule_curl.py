"""Curl descent (rule-flipped neurons): a fraction of hidden neurons learn with the opposite sign.

Wraps backprop with `make_rule("curl", base="bp", fraction=f)` on a linear student-teacher task
(input 20, hidden 199, output 1, 250 samples) and prints the final/initial loss for several fractions:
small fractions still converge, large ones make learning unstable (see the `curl` study's phase plot).
"""

import os

import torch

import plasticity as P

steps = 50 if os.environ.get("PLASTICITY_SMOKE") else 2000
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
x = torch.randn(250, 20, generator=g)
teacher = torch.randn(20, 1, generator=g) / 20**0.5
y = x @ teacher
for fraction in [0.0, 0.1, 0.2, 0.4]:
    P.seed_everything(0)
    model = P.MLP([20, 199, 1], activation="identity", bias=False)
    rule = P.make_rule("curl", base="bp", fraction=fraction, side="both", seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    first = rule.step(model, x, y).loss_value
    for _ in range(steps):
        loss = rule.step(model, x, y).loss_value
        if not loss < 1e6:
            break
        opt.step()
    print(f"fraction {fraction:.1f}: final/initial loss {loss / first:.2e}")
