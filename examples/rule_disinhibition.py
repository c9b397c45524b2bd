"""Dis-inhibitory Hebbian rule (Rossbroich & Zenke 2023: top-down dis-inhibition sets the sign of Hebbian plasticity) on digits, with its update's angle to backprop.

Runs 20 epochs (PLASTICITY_SMOKE=1: one epoch) of an MLP 64-128-128-10 with SGD and momentum.
"""

import os

import torch

import plasticity as P

epochs = 1 if os.environ.get("PLASTICITY_SMOKE") else 20
torch.set_num_threads(1)
data = P.load_dataset("digits")
P.seed_everything(0)
model = P.MLP([64, 128, 128, 10])
rule = P.make_rule("disinhibition", seed=0)
opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
history = P.Trainer(model, rule, opt, data, epochs=epochs, batch_size=32, seed=0).fit()
angles = P.update_alignment(model, rule, data.x_test[:256], data.y_test[:256])
print(f"disinhibition: test accuracy {history[-1]['test_accuracy']:.3f}")
print("angle to backprop per layer (degrees):", {k: round(v, 1) for k, v in angles.items()})
