"""DVC's local cache read without a Repo object: where an object lives, and which
objects no longer hash to their names.

``tether diff`` and ``tether history`` read metric files that DVC stores in its
cache straight from the cache directory, by the md5 dvc.lock records. Building a
``dvc.repo.Repo`` (about 0.4 s to import) for that would dominate their run time,
so the cache layout is spelled out here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tether.backends.hashing import file_md5


def cache_dir(root: Path) -> Path:
    """The local DVC cache directory: ``cache.dir`` from .dvc/config.local or
    .dvc/config (relative to .dvc/), else .dvc/cache.

    Read with configparser rather than ``dvc.config.Config``, whose import alone
    costs about 0.1 s; only this one key is needed.
    """
    import configparser

    dvc_dir = root / ".dvc"
    for name in ("config.local", "config"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(dvc_dir / name, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option("cache", "dir"):
            value = parser.get("cache", "dir").strip().strip("'\"")
            return (dvc_dir / os.path.expanduser(value)).resolve()
    return dvc_dir / "cache"


def cached_file(cache: Path, md5: str, legacy: bool = False) -> Path | None:
    """Where the cache keeps the object with hash ``md5``, None if ``md5`` is not
    a hash. DVC 3 outputs (``hash: md5`` in dvc.lock) live under ``files/md5/``;
    DVC 2 outputs directly under the cache directory."""
    md5 = md5.lower()
    digest = md5.removesuffix(".dir")
    if len(digest) < 3 or not all(c in "0123456789abcdef" for c in digest):
        return None
    base = cache if legacy else cache / "files" / "md5"
    return base / md5[:2] / md5[2:]


@dataclass(frozen=True)
class CorruptObject:
    """A cache object whose bytes do not hash to its name."""

    oid: str  # the name (``<md5>`` or ``<md5>.dir``)
    location: str  # the file in the cache
    actual: str  # what its bytes hash to
    owner: str  # the output it belongs to (``path`` or ``path (a file inside)``)


def corrupted_in_cache(cache: Path, owners: dict[str, str]) -> list[CorruptObject]:
    """Rehash the local cache objects ``{oid: output path}`` and return the ones whose
    bytes do not match their name. Objects not in the cache are not judged here
    (a missing object is found by whatever needs it); a directory object brings
    the objects of the files it lists.

    DVC itself trusts an object once its state database has seen it (same inode,
    size and mtime), so a byte flipped in place goes unnoticed until someone
    downloads it; this reads every byte.
    """
    import json

    found: list[CorruptObject] = []
    queue = [(oid, owner) for oid, owner in owners.items()]
    seen: set[str] = set()
    while queue:
        oid, owner = queue.pop(0)
        if oid in seen:
            continue
        seen.add(oid)
        path = cached_file(cache, oid)
        if path is None or not path.is_file():
            continue
        actual = file_md5(path)
        if actual != oid.removesuffix(".dir"):
            found.append(CorruptObject(oid, str(path), actual, owner))
            continue
        if oid.endswith(".dir"):
            try:
                entries = json.loads(path.read_bytes())
            except ValueError:
                continue
            inside = owner if owner.endswith("(a file inside)") else f"{owner} (a file inside)"
            queue.extend((e["md5"], inside) for e in entries if isinstance(e, dict) and "md5" in e)
    return found


def cached_closure(cache: Path, oids: Sequence[str]) -> dict[str, Path | None]:
    """Every object of ``oids`` and the files their directory listings name, each
    with its file in the local cache (None: not there), in a stable order."""
    import json

    found: dict[str, Path | None] = {}
    queue = list(dict.fromkeys(oids))
    while queue:
        oid = queue.pop(0)
        if oid in found:
            continue
        path = next(
            (
                p
                for p in (cached_file(cache, oid), cached_file(cache, oid, legacy=True))
                if p is not None and p.is_file()
            ),
            None,
        )
        found[oid] = path
        if path is not None and oid.endswith(".dir"):
            try:
                queue.extend(str(e["md5"]) for e in json.loads(path.read_bytes()))
            except (ValueError, KeyError, TypeError):
                pass  # reported as corrupted: its bytes do not hash to its name
    return found
