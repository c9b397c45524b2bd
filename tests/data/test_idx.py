"""IDX reading, md5 verification and one-line errors for missing/corrupt files."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

import plasticity as P
from plasticity.data import IDX_FILES, has_dataset, load_idx_dataset, read_idx


def _write_idx(path, arr: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_read_idx_round_trip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "x.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), arr)


def test_missing_file_names_file_and_fix(tmp_path):
    with pytest.raises(P.DataError) as err:
        load_idx_dataset("mnist", tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and "not found" in msg and "plasticity data download mnist" in msg
    assert "\n" not in msg


def test_wrong_md5_is_reported_as_corrupt(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in IDX_FILES["mnist"]:
        _write_idx(folder / f, np.zeros((2, 2), np.uint8))
    with pytest.raises(P.DataError, match="corrupt \\(md5"):
        load_idx_dataset("mnist", tmp_path)


def test_truncated_gzip_is_unreadable(tmp_path):
    arr = np.zeros((50, 28, 28), np.uint8)
    _write_idx(tmp_path / "x.gz", arr)
    data = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(P.DataError, match="unreadable"):
        read_idx(tmp_path / "x.gz")


def test_wrong_size_header_is_unreadable(tmp_path):
    header = struct.pack(">HBB", 0, 0x08, 1) + struct.pack(">I", 10)
    with gzip.open(tmp_path / "x.gz", "wb") as fh:
        fh.write(header + b"\x00" * 3)
    with pytest.raises(P.DataError, match="unreadable"):
        read_idx(tmp_path / "x.gz")


@pytest.mark.skipif(not has_dataset("mnist"), reason="MNIST files not in PLASTICITY_DATA")
def test_real_mnist_loads_and_verifies():
    d = load_idx_dataset("mnist")
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert float(d.x_train.max()) == 1.0 and int(d.y_train.max()) == 9


@pytest.mark.skipif(not has_dataset("fashion-mnist"), reason="Fashion-MNIST files not in PLASTICITY_DATA")
def test_truncated_copy_of_real_file_is_corrupt(tmp_path):
    from plasticity.data.idx import resolve_data_dir

    src = resolve_data_dir() / "fashion-mnist"
    dst = tmp_path / "fashion-mnist"
    shutil.copytree(src, dst)
    f = dst / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(P.DataError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        load_idx_dataset("fashion-mnist", tmp_path)
