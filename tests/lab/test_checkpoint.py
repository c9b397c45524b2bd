"""Checkpoints: checksum, atomic rotation, corrupt newest -> previous, exact restore; divergence guard."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from plasticity.errors import DivergenceError
from plasticity.lab.checkpoint import (
    Checkpointer,
    CheckpointError,
    decode,
    encode,
    list_checkpoints,
    load_latest,
    restore_trainer,
    save_checkpoint,
    trainer_state,
)
from plasticity.lab.config import validate_config
from plasticity.lab.runner import build, execute
from plasticity.lab.trainer import Trainer


def _trainer(seed: int = 0, epochs: int = 2, callbacks=()) -> Trainer:
    cfg = validate_config({"seed": seed, "model": {"hidden": [16]}, "rule": {"name": "fa"},
                           "geometry": {"name": "adam", "lr": 0.01}, "data": {"n_train": 200, "n_test": 50},
                           "training": {"epochs": epochs, "batch_size": 32}})
    b = build(cfg)
    return Trainer(b.model, b.rule, b.optimizer, b.data, epochs=epochs, batch_size=32, seed=seed,
                   callbacks=list(callbacks))


def test_checksum_detects_corruption() -> None:
    blob = encode({"a": torch.arange(3)})
    assert torch.equal(decode(blob)["a"], torch.arange(3))
    bad = blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:]
    with pytest.raises(CheckpointError, match="checksum"):
        decode(bad)
    with pytest.raises(CheckpointError):
        decode(blob[: len(blob) // 2])


def test_rotation_and_fallback_to_previous(tmp_path: Path) -> None:
    for step in (5, 10, 15, 20):
        save_checkpoint(tmp_path, {"step": step}, step, keep=3)
    assert [p.name for p in list_checkpoints(tmp_path)] == [f"ckpt-{s:010d}.pt" for s in (10, 15, 20)]
    newest = list_checkpoints(tmp_path)[-1]
    newest.write_bytes(newest.read_bytes()[:50])  # torn write
    state, path = load_latest(tmp_path)
    assert state["step"] == 15 and path.name.endswith("15.pt")
    assert not list(tmp_path.glob("*.tmp"))


def test_mid_epoch_restore_continues_exactly(tmp_path: Path) -> None:
    ref = _trainer()
    ref.fit()
    ck = Checkpointer(tmp_path, every=9, background=False)
    part = _trainer(callbacks=[ck])
    part.epochs = 1  # stop after one epoch (7 steps), then resume from the step-9 checkpoint... which is in epoch 2
    part.fit()
    part.epochs = 2
    # run a few steps into epoch 2 and capture a mid-epoch checkpoint
    from plasticity.data.batches import batches

    for i, (x, y) in enumerate(batches(part.data.x_train, part.data.y_train, 32, part.seed, part.epoch)):
        if i == 3:
            break
        rep = part.train_step(x, y)
        part._loss_sum += rep.loss
        part._loss_count += 1
        part.batch_in_epoch += 1
        part.global_step += 1
    state = trainer_state(part)
    fresh = _trainer()
    restore_trainer(fresh, decode(encode(state)))
    assert fresh.batch_in_epoch == 3 and fresh.epoch == 1
    fresh.fit()
    for a, b in zip(ref.model.parameters(), fresh.model.parameters(), strict=True):
        assert torch.equal(a, b)
    strip = [{k: v for k, v in h.items() if k not in ("seconds", "ms_per_step")} for h in ref.history]
    assert strip == [{k: v for k, v in h.items() if k not in ("seconds", "ms_per_step")} for h in fresh.history]
    assert ck.written >= 1


def test_divergence_names_step_and_layer(tmp_path: Path) -> None:
    cfg = validate_config({"model": {"hidden": [16]}, "geometry": {"lr": 10.0}, "training": {"epochs": 3},
                           "data": {"name": "student_teacher", "n_train": 200}})
    out = execute(cfg, tmp_path)
    assert out.status == "diverged"
    assert "at step" in out.message and "layers." in out.message
    t = _trainer()
    with torch.no_grad():
        t.model.layers[0].weight[0, 0] = float("nan")
    with pytest.raises(DivergenceError, match=r"step 0: non-finite (loss|gradient of layers\.\d\.\w+)"):
        t.fit()


def test_corrupt_newest_checkpoint_falls_back_and_run_ends_identical(tmp_path: Path) -> None:
    """A torn newest checkpoint is skipped: the run resumes from the previous one and still ends bit-identical."""
    base = {"seed": 1, "model": {"hidden": [32]}, "rule": {"name": "dfa"}, "geometry": {"lr": 0.05, "momentum": 0.9},
            "data": {"n_train": 320, "n_test": 50},
            "training": {"epochs": 3, "batch_size": 32, "checkpoint_every": 4, "checkpoint_overhead": 1.0}}
    ref = execute(validate_config(base), tmp_path / "ref", resume=False)
    short = validate_config({**base, "training": {**base["training"], "epochs": 1}})
    assert execute(short, tmp_path / "v").status == "finished"  # leaves ckpts at steps 4, 8, 10 (epoch end)
    ck = list_checkpoints(tmp_path / "v" / "checkpoints")
    assert [p.name for p in ck] == [f"ckpt-{s:010d}.pt" for s in (4, 8, 10)]
    ck[-1].write_bytes(ck[-1].read_bytes()[:-100])  # torn write of the newest
    out = execute(validate_config(base), tmp_path / "v", resume=True)
    assert out.status == "finished" and out.resumed_from == str(ck[1])
    strip = [{k: v for k, v in h.items() if k not in ("seconds", "ms_per_step")} for h in ref.history]
    assert strip == [{k: v for k, v in h.items() if k not in ("seconds", "ms_per_step")} for h in out.history]
    a, _ = load_latest(tmp_path / "ref" / "checkpoints")
    b, _ = load_latest(tmp_path / "v" / "checkpoints")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


def test_overhead_budget_skips_only_when_writes_would_dominate(tmp_path: Path) -> None:
    """With a tiny budget most due checkpoints are skipped, but the first and the final epoch's are written."""
    every = Checkpointer(tmp_path / "all", every=1, background=False)
    _trainer(callbacks=[every]).fit()
    assert every.written == 14 + 2 and every.skipped == 0  # 7 steps x 2 epochs + 2 epoch ends
    lean = Checkpointer(tmp_path / "lean", every=1, background=False, max_overhead=1e-6)
    t = _trainer(callbacks=[lean])
    t.fit()
    assert lean.written >= 2 and lean.skipped >= 10 and lean.written + lean.skipped == 16
    state, _ = load_latest(tmp_path / "lean")
    assert state["position"]["epoch"] == 2  # the final epoch's checkpoint is always there
    for k, v in t.model.state_dict().items():
        assert torch.equal(state["model"][k], v)


def test_crafted_checkpoint_is_refused_and_runs_no_code(tmp_path: Path) -> None:
    """A payload with a valid CRC that would run code when unpickled is refused (weights_only=True)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from test_cli_bad_inputs import crafted_checkpoint

    marker = tmp_path / "PWNED"
    path = tmp_path / "ck" / "ckpt-0000000001.pt"
    crafted_checkpoint(path, marker)
    with pytest.raises(CheckpointError, match="refused"):
        decode(path.read_bytes(), str(path))
    assert load_latest(tmp_path / "ck") is None
    assert not marker.exists()


def test_own_checkpoints_load_with_weights_only(tmp_path: Path) -> None:
    """Every state we write (model, optimizer, rule, RNGs incl. numpy's) is plain data."""
    import numpy as np

    tr = _trainer()
    np.random.seed(3)
    state = trainer_state(tr)
    back = decode(encode(state))
    assert back["rng"]["numpy"]["kind"] == "MT19937"
    np.random.rand(5)
    restore_trainer(tr, back)
    assert np.random.get_state()[2] == np.random.RandomState(3).get_state()[2]
