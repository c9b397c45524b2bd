"""Holomorphic equilibrium propagation (N complex nudges on a circle) (Laborieux & Zenke 2022) on digits, with its gradient check against BPTT.

Trains an EnergyMLP 64-64-10 (symmetric feedback) for 5 epochs (PLASTICITY_SMOKE=1: one) and prints the
per-layer cosine between the rule's estimate and the BPTT gradient of the same network.
"""

import os

import torch

import plasticity as P

epochs = 1 if os.environ.get("PLASTICITY_SMOKE") else 5
torch.set_num_threads(1)
data = P.load_dataset("digits")
P.seed_everything(0)
net = P.EnergyMLP([64, 64, 10], feedback="symmetric", T1=30, T2=10)
rule = P.make_rule("hep", beta=0.5, n=4)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
history = P.Trainer(net, rule, opt, data, epochs=epochs, batch_size=32, seed=0).fit()
print(f"hep: test accuracy {history[-1]['test_accuracy']:.3f}")
cos = P.ep_gradient_check(rule, net, data.x_test[:64], data.y_test[:64])
print("cosine to BPTT per layer:", {k: round(v, 4) for k, v in cos.items()})
