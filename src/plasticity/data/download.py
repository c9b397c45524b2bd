"""Download helper for machines with internet: official file names, md5-verified, atomic writes."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DataError, check_choice
from ..utils import atomic_write_bytes
from .idx import IDX_FILES, md5sum, resolve_data_dir

MIRRORS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


def download(name: str, data_dir: str | os.PathLike | None = None, base_url: str | None = None,
             timeout: float = 60.0, force: bool = False) -> Path:
    """Fetch the four IDX files of ``name`` into ``<data_dir>/<name>/``; skip files already present and valid."""
    check_choice("dataset", name, IDX_FILES)
    folder = resolve_data_dir(data_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    base = (base_url or MIRRORS[name]).rstrip("/") + "/"
    for fname, md5 in IDX_FILES[name].items():
        target = folder / fname
        if target.is_file() and not force and md5sum(target) == md5:
            continue
        url = base + fname
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                data = resp.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DataError(f"{name}: could not download {url} ({exc}); copy the files into {folder} by hand") from None
        got = hashlib.md5(data).hexdigest()
        if got != md5:
            raise DataError(f"{name}: {url} has md5 {got}, expected {md5}; the mirror is wrong or the transfer broke")
        atomic_write_bytes(target, data)
    return folder
