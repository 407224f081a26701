"""Where a served model comes from: a registry reference, read through the doors.

``locate`` takes the release a reference names (``tether.revisions.release``, the
registry read once) and checks that its manifest and its commit's dvc.lock (``tether.dvcfiles``) record the same
md5 for the model; ``fetch`` brings the bytes by that md5 (``tether.objects.fetch``:
local DVC cache, else the DVC remote, rehashed); ``load`` unpickles only bytes
that hash to it. Nothing here reads tags, dvc.lock or the cache by hand, and the
Git work tree may be checked out anywhere (or nowhere near the release).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from tether import dvcfiles, objects
from tether.errors import CheckFailed, UsageError
from tether.registry.manifest import ReleaseRecord
from tether.revisions import Target, release
from tether.serve.model import Release, Served, check_md5, load

SCHEMA_FILE = "schema.json"  # written by the training stage beside the model


@dataclass(frozen=True)
class Located:
    """A release and the md5s of its model and (if recorded) its schema."""

    release: Release
    schema_path: str | None
    schema_md5: str | None
    record: ReleaseRecord


def _recorded_md5(root: Path, record: ReleaseRecord, path: str, lock: dvcfiles.Project) -> str:
    """The md5 of ``path`` that the manifest AND dvc.lock at the release's commit
    agree on; CheckFailed naming both when they do not."""
    in_manifest = record.manifest.outs.get(path)
    output = lock.output(path)
    in_lock = output.md5 if output is not None else None
    if in_manifest is None and in_lock is None:
        raise UsageError(
            f"{record.tag} records no md5 for {path}",
            f"Release a model declared in dvc.yaml's artifacts; see `tether manifest {record.tag}`.",
        )
    if in_manifest != in_lock:
        raise CheckFailed(
            f"{path} of {record.tag}: the release manifest records {in_manifest} but dvc.lock "
            f"at {record.commit[:8]} records {in_lock}; nothing was loaded",
            f"The release tag does not match its commit. Check it with `tether verify {record.tag}`.",
        )
    assert in_manifest is not None
    return in_manifest


def locate(root: Path, found: Target) -> Located:
    """The release ``found`` names (``tether.revisions.release``), with the md5s its
    manifest and dvc.lock agree on."""
    ref, record, reference = found.text, found.record, found.reference
    if record is None:
        raise UsageError(
            f"{ref} names no registered release", "Serve a release; see `tether show`."
        )
    if record.deregistered:
        raise UsageError(
            f"{ref} is deregistered (tag {record.deregistered}): it is not served",
            "Serve a live version; see `tether show`.",
        )
    manifest = record.manifest
    lock = dvcfiles.read(root, record.commit)
    model_md5 = _recorded_md5(root, record, manifest.path, lock)
    schema_path = posixpath.join(posixpath.dirname(manifest.path), SCHEMA_FILE)
    schema_md5 = None
    if schema_path in manifest.outs or lock.output(schema_path) is not None:
        schema_md5 = _recorded_md5(root, record, schema_path, lock)
    release = Release(
        artifact=record.artifact,
        version=record.version,
        tag=record.tag,
        commit=record.commit,
        model_path=manifest.path,
        model_md5=model_md5,
        manifest={"tag": record.tag, "summary": record.summary, **manifest.to_dict()},
        stage=reference.stage if reference is not None else None,
    )
    return Located(release, schema_path if schema_md5 else None, schema_md5, record)


def fetch(root: Path, located: Located, remote: str | None = None) -> tuple[bytes, bytes | None]:
    """The model's bytes and the schema's (None if the release has none), each
    checked against the md5 the release records."""
    release = located.release
    model = _checked_bytes(
        root, release.model_md5, f"the model {release.model_path} of {release.label}", remote
    )
    schema = None
    if located.schema_md5 is not None:
        what = f"{located.schema_path} of {release.label}"
        schema = _checked_bytes(root, located.schema_md5, what, remote)
    return model, schema


def _checked_bytes(root: Path, md5: str, what: str, remote: str | None) -> bytes:
    """The bytes of object ``md5`` (``what``, for messages), hashed again as read:
    these bytes, not the file's, are what gets loaded."""
    data = objects.fetch(root, md5, remote=remote, what=what).read_bytes()
    check_md5(data, md5, what)
    return data


def load_release(root: Path, located: Located, remote: str | None = None) -> Served:
    """Fetch, verify, unpickle and warm the release ``located`` names."""
    model, schema = fetch(root, located, remote)
    return load(located.release, model, schema)


def open_ref(root: Path, ref: str, remote: str | None = None) -> Served:
    return load_release(root, locate(root, release(root, ref)), remote)
