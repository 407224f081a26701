"""Moving objects between the local cache and a DVC remote, every byte hashed on
the way: verify's copy into a clean worktree's cache, tether push's upload, and
the one object tether stores itself (a release's monitoring profile)."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.backends.dvc.cache import cache_dir, cached_closure
from tether.backends.dvc.config import remote_settings
from tether.backends.dvc.repo import dvc_error_types, open_repo
from tether.backends.hashing import file_md5
from tether.errors import ConfigError, ExternalError

if TYPE_CHECKING:
    from dvc.repo import Repo


def remote_store(repo: Repo, name: str, legacy: bool = False) -> Any:
    """The object store of remote ``name``, as DVC opens it (URL, credentials...);
    ``legacy``: its DVC 2 layout (objects at the top, not under files/md5)."""
    return repo.cloud.get_remote_odb(name, hash_name="md5-dos2unix" if legacy else "md5")


def cache_store(repo: Repo, legacy: bool = False) -> Any:
    """The repo's local object cache (``legacy``: its DVC 2 layout)."""
    return repo.cache.legacy if legacy else repo.cache.local


def object_location(store: Any, oid: str) -> str:
    """Where an object lives in a store, as a URL-like string for messages."""
    path = store.oid_to_path(oid)
    protocol = getattr(store.fs, "protocol", "local")
    protocol = protocol[0] if isinstance(protocol, tuple) else protocol
    return path if protocol in ("local", "file") else f"{protocol}://{path}"


@dataclass
class ObjectCopy:
    """What ``copy_verified`` did with each object it was asked for."""

    copied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # oid -> (where the object lives in the source, the hash of the bytes found there)
    corrupted: dict[str, tuple[str, str]] = field(default_factory=dict)
    unreachable: str | None = None  # the error, when the source could not be read at all
    parents: dict[str, str] = field(default_factory=dict)  # file oid -> its directory's oid


def copy_verified(source: Any, dest: Any, oids: Sequence[str]) -> ObjectCopy:
    """Copy objects from ``source`` to ``dest``, hashing every byte read.

    DVC's own fetch falls short here: to answer "does a local remote hold this
    object?" it re-hashes the object and deletes it when the hash does not match
    (dvc_data ``LocalHashFileDB.oids_exist`` -> ``check``), so a corrupted object
    would vanish from the remote before anyone sees it. Here nothing is deleted:
    an object whose bytes do not hash to its name is reported and left in place.
    Directory objects (``<md5>.dir``) bring the files they list along.
    """
    import hashlib
    import json
    import tempfile

    report = ObjectCopy()
    queue = list(dict.fromkeys(oids))
    seen: set[str] = set()
    while queue:
        oid = queue.pop(0)
        if oid in seen:
            continue
        seen.add(oid)
        target = Path(dest.oid_to_path(oid))
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.md5(usedforsecurity=False)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tether-")
        try:
            with os.fdopen(fd, "wb") as out, source.fs.open(source.oid_to_path(oid), "rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except FileNotFoundError:
            os.unlink(temp)
            report.missing.append(oid)
            continue
        except Exception as exc:  # a remote that cannot be read at all
            os.unlink(temp)
            report.unreachable = f"{type(exc).__name__}: {exc}"
            report.missing.append(oid)
            report.missing.extend(o for o in queue if o not in seen)
            break
        actual = digest.hexdigest()
        if actual != oid.removesuffix(".dir"):
            os.unlink(temp)
            report.corrupted[oid] = (object_location(source, oid), actual)
            continue
        os.chmod(temp, 0o444)
        os.replace(temp, target)
        report.copied.append(oid)
        if oid.endswith(".dir"):
            entries = json.loads(target.read_bytes())
            for entry in entries:
                report.parents.setdefault(entry["md5"], oid)
                queue.append(entry["md5"])
    return report


def push_outputs(root: Path, remote: str) -> int:
    """Push every cached output of the workspace's pipeline to ``remote``; returns
    how many files were uploaded (0 when the remote had them all)."""
    # An unreachable local remote surfaces as a bare OSError from DVC's transfer.
    failures: tuple[type[BaseException], ...] = (*dvc_error_types(), OSError)
    with open_repo(root) as repo:
        try:
            return int(repo.push(remote=remote) or 0)
        except failures as exc:
            raise ExternalError(
                f"dvc push to remote {remote!r} failed: {exc}",
                "Check the remote with `dvc remote list` and that the outputs are in the cache "
                "(`dvc status -c`).",
            ) from None


def store_object(root: Path, data: bytes, remote: str) -> str:
    """Put ``data`` in the local DVC cache under its md5 and push that one object to
    ``remote`` with DVC's own transfer; returns the md5.

    Release profiles are not outputs of any stage, so ``dvc push`` would not send
    them: this is the one object tether adds to the cache and the remote itself.
    """
    import hashlib

    from dvc_data.hashfile.hash_info import HashInfo

    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    with open_repo(root) as repo:
        target = Path(cache_store(repo).oid_to_path(md5))
        if not target.is_file():
            _write_read_only(target, data)
        failures: tuple[type[BaseException], ...] = (*dvc_error_types(), OSError)
        try:
            result = repo.cloud.push([HashInfo("md5", md5)], remote=remote)
        except failures as exc:
            raise ExternalError(
                f"dvc push of object {md5} to remote {remote!r} failed: {exc}",
                "Check the remote with `dvc remote list`, then release again.",
            ) from None
    if result.failed:
        raise ExternalError(
            f"remote {remote!r} did not accept object {md5}",
            "Check the remote with `dvc remote list`, then release again.",
        )
    return md5


def replace_object(root: Path, data: bytes, remote: str | None = None) -> list[str]:
    """Write ``data`` over every copy of its object: the local cache's (DVC 3 layout,
    and DVC 2's when one is there) and the one in ``remote`` (the default remote when
    None); returns where it wrote, for the message.

    ``store_object`` would not mend a corrupted copy: DVC's push asks the remote
    whether an object exists by name and skips it when it does, so bad bytes under
    the right name stay. The caller must have checked that ``data`` is right.
    """
    import hashlib

    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    written: list[str] = []
    try:
        name: str | None = remote_settings(root, remote)[0]
    except ConfigError:
        if remote is not None:
            raise
        name = None  # no default remote: only the local cache has a copy to mend
    with open_repo(root) as repo:
        for legacy in (False, True):
            target = Path(cache_store(repo, legacy=legacy).oid_to_path(md5))
            if legacy and not target.exists():
                continue
            _write_read_only(target, data)
            written.append(str(target))
        if name is None:
            return written
        store = remote_store(repo, name)
        path = store.oid_to_path(md5)
        protocol = getattr(store.fs, "protocol", "local")
        protocol = protocol[0] if isinstance(protocol, tuple) else protocol
        failures: tuple[type[BaseException], ...] = (*dvc_error_types(), OSError)
        try:
            if protocol in ("local", "file"):
                _write_read_only(Path(path), data)
            else:  # an object store replaces the whole object in one PUT
                store.fs.upload_fobj(io.BytesIO(data), path)
        except failures as exc:
            raise ExternalError(
                f"could not write object {md5} to DVC remote {name!r}: {exc}",
                "Check the remote with `dvc remote list` and your credentials, then retry.",
            ) from None
        written.append(f"DVC remote {name!r} ({object_location(store, md5)})")
    return written


def _write_read_only(target: Path, data: bytes) -> None:
    """Put ``data`` at ``target`` via a temporary file and a rename, read-only as DVC
    keeps its cache files (a rename replaces even a read-only file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tether-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o444)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass
class ObjectUpload:
    """What ``upload_verified`` did with each object it was asked for."""

    uploaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # the remote had it already
    missing: list[str] = field(default_factory=list)  # in neither the cache nor the remote
    corrupted: dict[str, str] = field(default_factory=dict)  # oid -> the hash of the cached bytes


def upload_verified(root: Path, remote: str, oids: Sequence[str]) -> ObjectUpload:
    """Upload to DVC remote ``remote`` every object of ``oids`` it lacks, from the
    local cache, hashing each one before it leaves (a corrupted cache copy is
    reported, never uploaded). Directory objects bring the files they list.

    DVC's own push falls short here: it trusts the cache's bytes, and it answers
    "what does the remote lack?" per revision, not per release. The remote is asked
    about all objects in one batch through its filesystem (concurrent requests on
    S3 and other cloud remotes), not through the object database, because DVC's
    check of a local remote deletes an object whose bytes do not match its name.
    Files are uploaded in one batch, then directory listings in another, so a
    listing never lands on the remote before the files it names.
    """
    report = ObjectUpload()
    with open_repo(root) as repo:
        store = remote_store(repo, remote)
        local = cache_store(repo)
        found = cached_closure(cache_dir(root), oids)
        try:
            wanted = list(found)
            there = store.fs.exists([store.oid_to_path(oid) for oid in wanted])
            ready: list[tuple[str, Path]] = []
            for oid, present in zip(wanted, there, strict=True):
                path = found[oid]
                if present:
                    report.present.append(oid)
                elif path is None:
                    report.missing.append(oid)
                elif (actual := file_md5(path)) != oid.removesuffix(".dir"):
                    report.corrupted[oid] = actual
                else:
                    ready.append((oid, path))
            for batch in (
                [(o, p) for o, p in ready if not o.endswith(".dir")],
                [(o, p) for o, p in ready if o.endswith(".dir")],
            ):
                if batch:
                    store.add(
                        [str(p) for _, p in batch],
                        local.fs,
                        [o for o, _ in batch],
                        check_exists=False,
                    )
                    report.uploaded += [o for o, _ in batch]
        except OSError as exc:
            raise ExternalError(
                f"DVC remote {remote!r} could not be written: {exc}",
                "Check the remote with `dvc remote list`, its path or credentials, then retry.",
            ) from None
    return report
