"""Shared test set-up: small thread count, the shared datasets folder, a fixed seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not os.environ.get("PLASTICITY_DATA") and SHARED_DATA.is_dir():
    os.environ["PLASTICITY_DATA"] = str(SHARED_DATA)

torch.set_num_threads(min(2, torch.get_num_threads()))


def _has_mnist() -> bool:
    root = os.environ.get("PLASTICITY_DATA")
    return bool(root) and (Path(root) / "mnist" / "train-images-idx3-ubyte.gz").is_file()


requires_mnist = pytest.mark.skipif(not _has_mnist(), reason="MNIST files not found (set PLASTICITY_DATA)")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
