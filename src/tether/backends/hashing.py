"""Content hashes computed from the bytes on disk, the way dvc.lock records them.

DVC itself keeps a state database keyed by inode, size and modification time and
reuses a recorded hash when those match, so a file rewritten in place with the same
size and mtime passes as unchanged. tether's checks read every byte instead.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20


def file_md5(path: str | os.PathLike[str], legacy: bool = False) -> str:
    """MD5 of a file's bytes (DVC 3 records plain MD5 for ``hash: md5`` outputs).

    ``legacy``: an entry DVC 2 wrote (``md5`` without ``hash: md5``), hashed as
    DVC 2 did, with CRLF read as LF in files that look like text; dvc_data keeps
    that algorithm (``md5-dos2unix``), so it is used as is.
    """
    if legacy:
        from dvc_data.hashfile.hash import fobj_md5

        with open(path, "rb") as fh:
            return fobj_md5(fh, chunk_size=CHUNK, name="md5-dos2unix")
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dir_md5(
    path: str | os.PathLike[str],
    ignored: Callable[[str], bool] | None = None,
    legacy: bool = False,
) -> str:
    """DVC's ``<md5>.dir`` hash of a directory output, from the bytes of every file.

    The listing format (sorted relpaths with their MD5s) is DVC's own Tree, so the
    value matches dvc.lock exactly; only the per-file hashing is done here.
    """
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    root = Path(path)
    tree = Tree()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if ignored is not None and ignored(full):
                continue
            rel = Path(full).relative_to(root).parts
            tree.add(rel, None, HashInfo("md5", file_md5(full, legacy)))
    tree.digest()
    assert tree.hash_info.value is not None
    return tree.hash_info.value


def output_md5(
    path: str | os.PathLike[str],
    ignored: Callable[[str], bool] | None = None,
    legacy: bool = False,
) -> str | None:
    """The hash of a file or directory as dvc.lock would record it; None if missing.
    ``legacy``: as DVC 2 recorded it (see ``file_md5``)."""
    if os.path.isdir(path):
        return dir_md5(path, ignored, legacy)
    if os.path.isfile(path):
        return file_md5(path, legacy)
    return None
