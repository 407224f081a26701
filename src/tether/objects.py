"""The bytes of a DVC output, by the md5 dvc.lock (or a release manifest) records.

``fetch`` looks in the local DVC cache first, then in a DVC remote (copying what it
downloads into the local cache), and hashes every byte before it hands a path back:
what a caller gets is what was recorded, or an error. A corrupted object raises
IntegrityError and is never used, copied on or uploaded; a missing one raises an
ExternalError naming the ``dvc push`` or ``dvc pull`` that would bring it.

Objects found in the local cache are read without importing DVC (about 0.4 s);
only a trip to the remote opens a DVC repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tether.backends import dvc
from tether.errors import ConfigError, ExternalError, IntegrityError, UsageError

_CHUNK = 1 << 20
SHARED_REMOTE_DOCS = 'README.md, "Moving a team to a shared remote"'


def local_folder(settings: dict[str, Any]) -> Path | None:
    """The folder of a DVC remote kept on a local path (``url``), None for any other."""
    url = str(settings.get("url") or "")
    if "://" in url and not url.startswith("file://"):
        return None
    return Path(url.removeprefix("file://"))


def in_clone_note(root: Path, name: str, settings: dict[str, Any]) -> str:
    """A sentence for a DVC remote that is a folder inside this clone (the template's
    default ``.dvc/storage``): it holds only what this clone pushed, and no teammate
    can reach it. "" for any other remote."""
    folder = local_folder(settings)
    if folder is None or not folder.resolve().is_relative_to(root.resolve()):
        return ""
    return (
        f" The DVC remote {name!r} is a folder inside this clone ({folder}): it holds only "
        "what this clone pushed, and teammates cannot reach it. Point it at the folder "
        f"or bucket that holds the data (`dvc remote modify --local {name} url PATH`), "
        f"or move the team to shared storage with `tether push` ({SHARED_REMOTE_DOCS})."
    )


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_md5(md5: str) -> str:
    md5 = md5.lower()
    digest = md5.removesuffix(".dir")
    if len(digest) != 32 or not all(c in "0123456789abcdef" for c in digest):
        raise UsageError(
            f"{md5!r} is not an md5 of a DVC object",
            "Take the md5 from dvc.lock or a release manifest (`tether show NAME@vX.Y.Z`).",
        )
    return md5


def _local(root: Path, md5: str) -> Path | None:
    """The verified local cache copy of ``md5`` (DVC 3 layout, then DVC 2), or None."""
    cache = dvc.cache_dir(root)
    for legacy in (False, True):
        found = dvc.cached_file(cache, md5, legacy)
        if found is None or not found.is_file():
            continue
        actual = _md5_of(found)
        if actual != md5.removesuffix(".dir"):
            raise IntegrityError(
                f"the DVC cache object {md5} ({found})",
                md5.removesuffix(".dir"),
                actual,
                f"Delete {found}, then run `dvc pull` to bring a good copy from the remote.",
            )
        return found
    return None


def _from_remote(root: Path, md5: str, remote: str | None, what: str) -> Path:
    """Copy ``md5`` from the DVC remote into the local cache, hashing every byte."""
    try:
        name, settings = dvc.remote_settings(root, remote)
    except ConfigError as exc:
        if remote is not None:
            raise
        raise ExternalError(
            f"{what} is not in the local DVC cache, and no DVC remote is set",
            "Run `dvc pull` from a repository that has it, or add the remote "
            "(`dvc remote add -d NAME URL`) and retry.",
        ) from exc
    with dvc.open_repo(root) as repo:
        # DVC 3's layout (files/md5/...), then DVC 2's, which a remote pushed to
        # before DVC 3 still holds and DVC 3 still reads
        for legacy in (False, True):
            store = dvc.remote_store(repo, name, legacy=legacy)
            cache = dvc.cache_store(repo, legacy=legacy)
            report = dvc.copy_verified(store, cache, [md5])
            target = Path(cache.oid_to_path(md5))
            if md5 not in report.missing or report.unreachable:
                break
    if md5 in report.corrupted:
        where, actual = report.corrupted[md5]
        raise IntegrityError(
            f"the object {md5} in DVC remote {name!r} ({where})",
            md5.removesuffix(".dir"),
            actual,
            f"Push a good copy from a cache that has it: `dvc push -r {name}`.",
        )
    if report.unreachable:
        raise ExternalError(
            f"DVC remote {name!r} could not be read: {report.unreachable}",
            "Check the remote with `dvc remote list` and your credentials, then retry.",
        )
    if md5 in report.missing:
        raise ExternalError(
            f"{what} is in neither the local DVC cache nor DVC remote {name!r}",
            f"Run `dvc push -r {name}` where the data was produced, then `dvc pull`."
            + in_clone_note(root, name, settings),
        )
    return target


def _place(source: Path, dest: Path) -> Path:
    """Copy ``source`` to ``dest`` via a temporary file and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=dest.parent, prefix=".tether-")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
        os.replace(temp, dest)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return dest


def fetch(
    root: Path,
    md5: str,
    *,
    remote: str | None = None,
    dest: Path | None = None,
    what: str | None = None,
) -> Path:
    """The file whose bytes hash to ``md5``: the local cache copy, else the one
    the DVC remote (default, or ``remote``) holds, brought into the local cache.
    With ``dest``, a copy is written there (atomically) and ``dest`` returned.
    ``what`` names the object in messages (e.g. "models/model.pkl of NAME@v1.0.0").

    Raises IntegrityError when the bytes found do not hash to ``md5``, and
    ExternalError when no copy is reachable.
    """
    md5 = _check_md5(md5)
    named = f"{what} (object {md5})" if what else f"object {md5}"
    found = _local(root, md5) or _from_remote(root, md5, remote, named)
    return _place(found, dest) if dest is not None else found


def fetch_dir(
    root: Path, md5: str, *, remote: str | None = None, dest: Path | None = None
) -> dict[str, Path]:
    """Every file of the directory output ``<md5>.dir``: ``{relative path: verified
    file}`` (files in the cache, or under ``dest`` when given)."""
    md5 = _check_md5(md5)
    if not md5.endswith(".dir"):
        raise UsageError(f"{md5} is a file's md5, not a directory's (`<md5>.dir`)")
    listing = json.loads(fetch(root, md5, remote=remote).read_bytes())
    files: dict[str, Path] = {}
    for entry in sorted(listing, key=lambda e: str(e.get("relpath", ""))):
        rel = str(entry.get("relpath", ""))
        if not rel or rel.startswith("/") or ".." in Path(rel).parts:
            raise ExternalError(
                f"the directory object {md5} lists a file outside its folder: {rel!r}",
                "Rebuild the output (`tether run`) and push it again (`dvc push`).",
            )
        target = dest / rel if dest is not None else None
        files[rel] = fetch(root, str(entry.get("md5", "")), remote=remote, dest=target)
    return files
