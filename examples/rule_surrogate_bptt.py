"""Surrogate-gradient BPTT on a LIF spiking network (digits): the spiking baseline.

SpikingMLP 64-128-10, 16 time steps, current input, leaky max-membrane readout, Adam; 15 epochs reach about
96% (PLASTICITY_SMOKE=1: one epoch). Prints the test accuracy.
"""

import os

import torch

import plasticity as P

epochs = 1 if os.environ.get("PLASTICITY_SMOKE") else 15
torch.set_num_threads(1)
data = P.load_dataset("digits")
P.seed_everything(0)
snn = P.SpikingMLP([64, 128, 10], n_steps=16)
rule = P.make_rule("surrogate-bptt")
opt = torch.optim.Adam(snn.parameters(), lr=2e-3)
history = P.Trainer(snn, rule, opt, data, epochs=epochs, batch_size=32, seed=0).fit()
print(f"surrogate-bptt: test accuracy {history[-1]['test_accuracy']:.3f}")
