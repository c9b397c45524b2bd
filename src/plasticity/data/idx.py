"""MNIST and Fashion-MNIST from the original IDX gzip files, verified by md5 before use."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, check_choice
from .task import TaskData

# name -> {file: md5}; the official file names and checksums of the releases.
IDX_FILES: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir`` if given, else ``$PLASTICITY_DATA``, else ``~/.cache/plasticity/data``."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("PLASTICITY_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "plasticity" / "data"


def has_dataset(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """True when all four files of ``name`` are present (not verified) in the data folder."""
    folder = resolve_data_dir(data_dir) / name
    return name in IDX_FILES and all((folder / f).is_file() for f in IDX_FILES[name])


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fix_hint(name: str, folder: Path) -> str:
    return (f"get it with `plasticity data download {name} --data-dir {folder.parent}` or point "
            f"--data-dir / PLASTICITY_DATA at a folder holding {name}/")


def read_idx(path: str | os.PathLike, expected_md5: str | None = None, dataset: str = "dataset") -> np.ndarray:
    """Read one IDX(.gz) file into a NumPy array, checking its md5 first when ``expected_md5`` is given."""
    path = Path(path)
    folder = path.parent
    if not path.is_file():
        raise DataError(f"{dataset}: file {path} not found; {_fix_hint(dataset, folder)}")
    if expected_md5 is not None and (got := md5sum(path)) != expected_md5:
        raise DataError(f"{dataset}: file {path} is corrupt (md5 {got}, expected {expected_md5}); "
                        f"delete it and {_fix_hint(dataset, folder)}")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
        if zero != 0 or dtype_code not in _DTYPES:
            raise ValueError("bad IDX magic number")
        shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
        arr = np.frombuffer(raw, dtype=_DTYPES[dtype_code], offset=4 + 4 * ndim)
        if arr.size != int(np.prod(shape)):
            raise ValueError(f"holds {arr.size} values, header says {shape}")
        return arr.reshape(shape)
    except (OSError, EOFError, zlib.error, ValueError, struct.error) as exc:
        raise DataError(f"{dataset}: file {path} is unreadable ({exc}); delete it and "
                        f"{_fix_hint(dataset, folder)}") from None


def load_idx_dataset(name: str, data_dir: str | os.PathLike | None = None, verify: bool = True) -> TaskData:
    """Load ``mnist`` or ``fashion-mnist`` from ``<data_dir>/<name>/`` as float tensors in [0, 1]."""
    check_choice("dataset", name, IDX_FILES)
    folder = resolve_data_dir(data_dir) / name
    files = IDX_FILES[name]

    def get(fname: str) -> np.ndarray:
        return read_idx(folder / fname, files[fname] if verify else None, name)

    xtr, ytr = get("train-images-idx3-ubyte.gz"), get("train-labels-idx1-ubyte.gz")
    xte, yte = get("t10k-images-idx3-ubyte.gz"), get("t10k-labels-idx1-ubyte.gz")
    if xtr.shape[0] != ytr.shape[0] or xte.shape[0] != yte.shape[0]:
        raise DataError(f"{name}: image and label counts differ in {folder}; {_fix_hint(name, folder)}")

    def to_x(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)

    return TaskData(name, to_x(xtr), torch.from_numpy(ytr.astype(np.int64)), to_x(xte),
                    torch.from_numpy(yte.astype(np.int64)), (1, 28, 28), 10)
