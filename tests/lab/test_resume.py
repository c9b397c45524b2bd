"""Must-show: a run SIGKILLed mid-epoch and resumed ends bit-identical to the same run never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from plasticity.lab.checkpoint import list_checkpoints, load_latest
from plasticity.lab.store import RunStore

TIMING = ("seconds", "ms_per_step", "ms_per_step_mean")
CONFIG = """
name: resume-test
seed: 3
model: {kind: mlp, hidden: [512, 512]}
rule: {name: fa}
geometry: {name: sgd, lr: 0.01, momentum: 0.9}
data: {name: digits}
training: {epochs: 2, batch_size: 32, schedule: cosine, checkpoint_every: 10}
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "plasticity.cli", *args]


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}


def _strip(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in TIMING}


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(CONFIG)
    store_path = tmp_path / "store.db"
    # the reference: never interrupted
    ref = subprocess.run(_cli("run", str(cfg), "--store", str(store_path), "--run-id", "ref", "--quiet"),
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    # the victim: SIGKILL as soon as a mid-epoch checkpoint of epoch 1 exists
    proc = subprocess.Popen(_cli("run", str(cfg), "--store", str(store_path), "--run-id", "victim", "--quiet"),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ck = tmp_path / "victim" / "checkpoints"
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None and not list_checkpoints(ck):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with RunStore(store_path) as st:
        assert st.get_run("victim")["status"] == "running"  # the dead process could not say anything
        assert st.mark_stale() == 1
        assert st.get_run("victim")["status"] == "interrupted"
    state, _path = load_latest(ck)
    pos = state["position"]
    assert pos["epoch"] == 0 and 0 < pos["batch_in_epoch"] < 45, pos  # killed in the middle of epoch 1

    res = subprocess.run(_cli("resume", "victim", "--store", str(store_path), "--quiet"), env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "resumed from" in res.stdout

    with RunStore(store_path) as st:
        assert st.get_run("victim")["status"] == "finished"
        ref_hist, vic_hist = st.metrics("ref"), st.metrics("victim")
        assert [_strip(r) for r in ref_hist] == [_strip(r) for r in vic_hist]
        assert len(vic_hist) == 2
        assert _strip(st.results("ref")) == _strip(st.results("victim"))
    ref_state, _ = load_latest(tmp_path / "ref" / "checkpoints")
    vic_state, _ = load_latest(ck)
    for k, v in ref_state["model"].items():
        assert torch.equal(v, vic_state["model"][k]), k
    for k, v in ref_state["rule"]["buffers"].items():
        assert torch.equal(v, vic_state["rule"]["buffers"][k]), k
