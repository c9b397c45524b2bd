"""Path safety for the lab: run-id validation, output-folder checks before any work, store-confined paths.

Nothing here writes: each check only looks, so a command can validate every output before it trains.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ConfigError, PlasticityError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_run_id(run_id: str, what: str = "run id") -> str:
    """``run_id`` if it is 1-128 of ``[A-Za-z0-9._-]`` starting with a letter or digit (so never a path)."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise ConfigError(f"{what} {run_id!r} is invalid; allowed: 1-128 characters of A-Z a-z 0-9 . _ -, "
                          "starting with a letter or digit (no path separators)")
    return run_id


def writable(path: Path) -> bool:
    """Writable for us *and* not marked read-only (no write bit at all), so root honours ``chmod a-w``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & 0o222)


def check_writable_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Raise a one-line error unless ``path`` is (or can be created as) a writable folder; creates nothing."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"{what} {str(p)!r} is a file, not a folder; pass another path")
        if not writable(p):
            raise ConfigError(f"{what} {str(p)!r} is not writable; pass another path")
        return p
    existing = p.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot create {what} {str(p)!r}: {str(existing)!r} is a file, not a folder")
    if not writable(existing):
        raise ConfigError(f"cannot create {what} {str(p)!r}: folder {str(existing)!r} is not writable; "
                          "pass another path")
    return p


def check_writable_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Raise unless ``path`` can be (over)written as a file; creates nothing."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{what} {str(p)!r} is a folder; pass a file path")
    if p.exists() and not writable(p):
        raise ConfigError(f"{what} {str(p)!r} is not writable; pass another path")
    check_writable_dir(p.parent if str(p.parent) else Path("."), f"folder of {what}")
    return p


def confine(path: str | os.PathLike, root: str | os.PathLike, what: str = "path") -> Path:
    """``path`` resolved, if it lies inside ``root`` (also resolved); otherwise a one-line error.

    Paths read back from the run store go through this, so an edited database cannot point the lab at
    files elsewhere."""
    rp, rr = Path(path).resolve(), Path(root).resolve()
    if rp != rr and rr not in rp.parents:
        raise PlasticityError(f"{what} {str(path)!r} lies outside the store folder {str(rr)!r}; refusing to use it")
    return rp
