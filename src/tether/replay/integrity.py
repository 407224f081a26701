"""Proof that a cached replayed environment still holds the files it was built with.

A replayed environment is reused by later `verify --env` runs, and whatever sits in
its site-packages runs inside every stage command: code appended to a module there
would run and the verify would still say "replayed from the release's lock". So:

- After a build, every file a distribution's RECORD lists is hashed and compared
  with RECORD's own digest (RECORD itself is tied to the lock by the record digest
  ``check_installed`` compares). A mismatch means the archive uv installed from
  was altered (uv's cache, a wheelhouse): the build fails and says so.
- Then a snapshot of the whole environment is written: each file's inode, size,
  modification and change times. ``ctime`` is set by the kernel on every write,
  rename, chmod and link, and cannot be set back from user space, so a file whose
  four numbers are unchanged has not been written since.
- On reuse the snapshot is compared with the files (a stat each: milliseconds for
  an environment of 20,000 files). A file whose numbers moved is hashed again
  against RECORD (a new hard link moves ctime without changing bytes); a file that
  is new, gone, or changed outside RECORD is damage, and the environment is
  rebuilt. Bytecode Python wrote since (``__pycache__``) is deleted on reuse, so
  the next run compiles from the checked sources and never loads a planted .pyc.

Why not only rehash everything on reuse: about 8 s for the 800 MB of a data-science
environment on these machines, paid by every replay; the snapshot costs a stat per
file and rehashes only what moved.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

SNAPSHOT = "tether-files.json"
LOCK_FILE = "tether-env.lock"  # held shared while the environment is in use
BYTECODE = "__pycache__"


def _site_packages(env: Path) -> list[Path]:
    return sorted(p for p in (env / "lib").glob("python*/site-packages") if p.is_dir())


def recorded_digests(env: Path) -> dict[str, str]:
    """``{path relative to env: "algo=digest"}`` for every file a RECORD lists
    inside site-packages, in RECORD's own urlsafe-base64 form."""
    found: dict[str, str] = {}
    for site in _site_packages(env):
        for record in sorted(site.glob("*.dist-info/RECORD")):
            try:
                rows = list(csv.reader(record.read_text(encoding="utf-8").splitlines()))
            except (OSError, UnicodeDecodeError, csv.Error):
                continue  # then the distribution's files count as unrecorded
            for row in rows:
                if len(row) < 2 or not row[1] or row[0].startswith(("../", "/")):
                    continue
                found[os.path.relpath(site / row[0], env)] = row[1]
    return found


def _digest(path: Path, spec: str) -> bool:
    """Whether ``path`` hashes to RECORD's ``spec`` (``sha256=<urlsafe b64>``)."""
    algorithm, _, expected = spec.partition("=")
    if algorithm not in hashlib.algorithms_guaranteed:
        return False
    digest = hashlib.new(algorithm)
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return False
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode() == expected


def altered_files(env: Path, only: set[str] | None = None) -> list[str]:
    """The files (relative to ``env``) whose bytes are not the ones RECORD lists:
    all of them, or those in ``only``. Files RECORD does not list are not judged."""
    digests = recorded_digests(env)
    names = sorted(digests if only is None else only & set(digests))
    return [name for name in names if not _digest(env / name, digests[name])]


def _stat(path: Path) -> list[int]:
    st = os.lstat(path)
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _files(env: Path) -> dict[str, Path]:
    """Every file and link of ``env`` but bytecode and tether's own snapshot and lock."""
    out = {}
    for base, dirs, files in os.walk(env):
        dirs[:] = [d for d in dirs if d != BYTECODE]
        for name in files:
            path = Path(base) / name
            relative = os.path.relpath(path, env)
            if relative not in (SNAPSHOT, LOCK_FILE):
                out[relative] = path
    return out


def write_snapshot(env: Path) -> None:
    """Record the stat of every file of ``env`` (called once it is checked whole)."""
    snapshot = {name: _stat(path) for name, path in _files(env).items()}
    temp = env / f".{SNAPSHOT}.tmp"
    temp.write_text(json.dumps(snapshot, separators=(",", ":")), encoding="utf-8")
    os.replace(temp, env / SNAPSHOT)


def damage(env: Path) -> list[str]:
    """What changed in ``env`` since its snapshot, in words; [] when nothing did.
    Deletes the bytecode Python wrote since (it is rebuilt from checked sources)."""
    try:
        snapshot = json.loads((env / SNAPSHOT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{SNAPSHOT} is missing or unreadable (an environment from an older tether?)"]
    if not isinstance(snapshot, dict):
        return [f"{SNAPSHOT} is not a snapshot"]
    now = _files(env)
    problems = [f"{name} was added" for name in sorted(set(now) - set(snapshot))]
    problems += [f"{name} was removed" for name in sorted(set(snapshot) - set(now))]
    moved = {
        name for name, path in now.items() if name in snapshot and _stat(path) != snapshot[name]
    }
    if moved:
        digests = recorded_digests(env)
        problems += [f"{name} was changed" for name in sorted(moved - set(digests))]
        problems += [f"{name} was changed" for name in altered_files(env, moved)]
    if problems:
        return problems
    for site in _site_packages(env):
        for cache in list(site.rglob(BYTECODE)):
            shutil.rmtree(cache, ignore_errors=True)
    if moved:  # relinked, same bytes: the next reuse need not hash them again
        write_snapshot(env)
    return []
