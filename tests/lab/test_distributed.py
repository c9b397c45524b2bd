"""Data parallel: torchrun with 2 gloo processes equals one process on the full batch, incl. an uneven last batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plasticity.data.registry import load_dataset
from plasticity.lab.distributed import GradAllReduce, shard
from plasticity.lab.trainer import Trainer
from plasticity.models import MLP
from plasticity.rules.registry import make_rule

N_TRAIN = 251  # last batch of 59 splits 29/30 over two processes: the uneven case

WORKER = """
import sys, torch
torch.set_num_threads(1)
from plasticity.data.registry import load_dataset
from plasticity.lab.distributed import DistributedTrainer, init_from_env, world
from plasticity.models import MLP
from plasticity.rules.registry import make_rule
assert init_from_env(torch.device('cpu'))
rule_name, out = sys.argv[1], sys.argv[2]
data = load_dataset('digits').subset(N_TRAIN, 64)
torch.manual_seed(0)
model = MLP([64, 32, 10])
rule = make_rule(rule_name, seed=0)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
tr = DistributedTrainer(model, rule, opt, data, epochs=2, batch_size=64, seed=0)
hist = tr.fit()
if world()[0] == 0:
    torch.save({'model': model.state_dict(), 'loss': [h['train_loss'] for h in hist]}, out)
"""


def _single(rule_name: str) -> tuple[dict[str, torch.Tensor], list[float]]:
    data = load_dataset("digits").subset(N_TRAIN, 64)
    torch.manual_seed(0)
    model = MLP([64, 32, 10])
    rule = make_rule(rule_name, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = Trainer(model, rule, opt, data, epochs=2, batch_size=64, seed=0).fit()
    return model.state_dict(), [h["train_loss"] for h in hist]


def test_shard_covers_batch() -> None:
    x = torch.arange(7)
    assert torch.equal(torch.cat([shard(x, r, 3) for r in range(3)]), x)


def test_allreduce_is_noop_without_group() -> None:
    m = torch.nn.Linear(2, 2)
    m.weight.grad = torch.ones_like(m.weight)
    GradAllReduce()(m)
    assert torch.equal(m.weight.grad, torch.ones_like(m.weight))


@pytest.mark.slow
@pytest.mark.parametrize("rule_name", ["dfa"])
def test_two_gloo_processes_equal_full_batch(tmp_path: Path, rule_name: str) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER.replace("N_TRAIN", str(N_TRAIN)))
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), rule_name, str(tmp_path / "dp.pt")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    dp = torch.load(tmp_path / "dp.pt")
    ref, ref_loss = _single(rule_name)
    worst = max(float((dp["model"][k] - v).abs().max()) for k, v in ref.items())
    print(f"torchrun 2 processes vs 1 process, {N_TRAIN} examples, batch 64: largest weight difference {worst:.3g}")
    for k, v in ref.items():
        torch.testing.assert_close(dp["model"][k], v, rtol=1e-5, atol=1e-6)
    assert dp["loss"] == pytest.approx(ref_loss, rel=1e-5)
