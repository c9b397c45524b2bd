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


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
