"""Write files so a reader never sees half of one: write a temporary file beside
the target, flush it to disk, then rename it over the target in one step."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def temp_path_beside(target: Path) -> Path:
    """A fresh, empty temporary file in ``target``'s directory (same filesystem)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(name)


def replace(temp: Path, target: Path) -> None:
    """Move a finished temporary file over ``target`` atomically."""
    with open(temp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(temp, target)


def write_bytes(target: Path, data: bytes) -> None:
    temp = temp_path_beside(target)
    try:
        temp.write_bytes(data)
        replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
