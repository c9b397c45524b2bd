"""Study ``dfa``: validation-split model selection, the test set read once, guards, the paper protocol."""

from __future__ import annotations

import torch

from plasticity.data import load_dataset
from plasticity.models import MLP
from plasticity.rules.base import compute_loss
from plasticity.studies import get_study
from plasticity.studies.dfa import split_validation


def test_smoke_selects_on_validation_and_guards(tmp_path) -> None:
    res = get_study("dfa").run("smoke", out_dir=tmp_path, quiet=True)
    d = res.metrics["datasets"]["digits"]
    assert set(d["rules"]) == {"bp", "dfa", "dfa-optical"}
    for r in d["rules"].values():
        assert r["chosen_lr"] in [s["lr"] for s in r["search"]]
        assert r["val_accuracy"] == max(s["val_accuracy"] for s in r["search"])
    assert d["n_train"] + d["n_val"] == 300 and d["n_test"] == 360
    # paired s.e. of the compared differences, scored on the same 360 test images
    assert 0.0 <= d["paired_se"]["dfa"]["bp"] < 0.1 and 0.0 <= d["paired_se"]["dfa-optical"]["dfa"] < 0.1
    # one epoch on 270 digits: BP is near chance, so the comparative checks must be INCONCLUSIVE, not PASS
    cmp = [c for c in res.checks if "minus" in c.name]
    assert cmp and all(c.status == "INCONCLUSIVE" for c in cmp) and res.deviations
    assert (tmp_path / "dfa.png").exists()


def test_validation_split_is_carved_from_train_only() -> None:
    data = load_dataset("digits")
    train, xv, _yv = split_validation(data, 0.1, seed=0)
    assert xv.shape[0] == 144 and train.x_train.shape[0] == 1437 - 144
    assert torch.equal(train.x_test, data.x_test)
    joined = torch.cat([train.x_train, xv])
    assert torch.equal(joined.sort(0).values, data.x_train.sort(0).values)


def test_paper_config_is_noklands_protocol() -> None:
    cfg = get_study("dfa").config("paper")
    assert cfg["hidden"] == [800, 800] and cfg["activation"] == "tanh" and cfg["loss"] == "bce"
    assert cfg["optimizer"] == "rmsprop" and cfg["lrs"] == [1e-4] and cfg["batch_size"] == 64
    assert cfg["dropout"] == [0.1, 0.5] and cfg["zero_init"] and abs(cfg["feedback_scale"] - 3**-0.5) < 1e-12


def test_mlp_dropout_zero_init_and_bce() -> None:
    m = MLP([4, 8, 3], activation="tanh", dropout=(0.1, 0.5), init="zero")
    assert all(float(p.detach().abs().sum()) == 0 for p in m.parameters())
    m.eval()
    out = m(torch.randn(5, 4))
    y = torch.tensor([0, 1, 2, 0, 1])
    loss = compute_loss(out, y, "bce")
    assert torch.isclose(loss, torch.tensor(torch.log(torch.tensor(2.0)).item()))
