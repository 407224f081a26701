"""``tether export``: a directory that serves with no Git repository and no DVC remote.

    DIR/
      model.pkl          the model's bytes (md5 as the release records it)
      schema.json        the input schema, when the release recorded one
      manifest.json      the release manifest (with its tag and summary)
      requirements.txt   the release environment's packages, pinned (by hash when its lock has them)
      bundle.json        what is where, and the SHA-256 of every file above

``tether serve --bundle DIR`` rehashes every file listed in bundle.json, checks
that the model's md5 is the one the manifest records, and only then unpickles.

Trust: the hashes prove a bundle whole, not who made it: anyone who can write the
directory can replace the model (a pickle runs code when loaded) and rewrite every
hash to match. A bundle exported with a key (``--key-file``, or the key text in
``TETHER_BUNDLE_KEY``) carries an HMAC-SHA256 of bundle.json, which lists every
file's SHA-256; ``serve --bundle`` given the same key loads nothing whose HMAC does
not match. Without a key the bundle is served and said to be unverified, on the
terminal and in /version. The key is a shared secret of the exporter and the
server (at least 32 bytes); keep it out of the bundle's directory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether import revisions
from tether.errors import CheckFailed, IntegrityError, UsageError
from tether.serve import source
from tether.serve.model import Release, Served, check_md5, load

BUNDLE_FILE = "bundle.json"
FORMAT = "tether-bundle"
FORMAT_VERSION = 1
MODEL_FILE = "model.pkl"
SCHEMA_FILE = "schema.json"
MANIFEST_FILE = "manifest.json"
REQUIREMENTS_FILE = "requirements.txt"
KEY_VARIABLE = "TETHER_BUNDLE_KEY"
KEY_MIN_BYTES = 32
SIGNATURE = "signature"


@dataclass(frozen=True)
class Exported:
    release: Release
    directory: Path
    files: dict[str, str]  # name -> sha256
    signed: bool = False


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_key(key_file: Path | None) -> bytes | None:
    """The signing key: the bytes of ``key_file`` (a trailing newline dropped), else
    ``TETHER_BUNDLE_KEY``, else None. UsageError when it is too short to be one."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise UsageError(
                f"cannot read the key file {key_file}: {exc.strerror}", "Name a readable file."
            ) from None
        where = str(key_file)
    elif os.environ.get(KEY_VARIABLE):
        key, where = os.environ[KEY_VARIABLE].encode(), KEY_VARIABLE
    else:
        return None
    if len(key) < KEY_MIN_BYTES:
        raise UsageError(
            f"the bundle key in {where} has {len(key)} bytes; it needs {KEY_MIN_BYTES} at least",
            "Make one with `python -c 'import secrets; print(secrets.token_hex(32))' > KEYFILE`.",
        )
    return key


def _signed_text(index: dict[str, Any]) -> bytes:
    """What the HMAC covers: bundle.json without its signature, canonical JSON."""
    body = {k: v for k, v in index.items() if k != SIGNATURE}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _hmac(key: bytes, index: dict[str, Any]) -> str:
    return hmac.new(key, _signed_text(index), hashlib.sha256).hexdigest()


def requirements(manifest: dict[str, Any]) -> str:
    """The release environment's packages, pinned; with the archives' SHA-256 from the
    release's lock when it hashed every one (pip then installs in hash-checking mode:
    a lock with one line unhashed could not be installed so, and is written without
    hashes, which the header says). tether itself is a comment: it is installed from
    the project, not from a package index."""
    lines = [
        f"# The environment {manifest.get('artifact')} {manifest.get('version')} was built in",
        f"# (Python {manifest.get('python')}). Install with: pip install -r requirements.txt",
    ]
    locked = _locked_lines(manifest)
    if locked is not None:
        lines.append("# Every archive is pinned by its SHA-256 (the release's lock).")
        return "\n".join([*lines, *locked]) + "\n"
    if (manifest.get("lock") or {}).get("requirements"):
        lines.append("# Not every archive was hashed when the release was made: pinned by version.")
    for name, version in sorted((manifest.get("packages") or {}).items()):
        if name == "tether":
            lines.append(f"# tether=={version}  (install tether from its project)")
        else:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def _locked_lines(manifest: dict[str, Any]) -> list[str] | None:
    """The lock's requirement lines when every installable one carries a --hash."""
    found = (manifest.get("lock") or {}).get("requirements")
    if not isinstance(found, list) or not found or not all(isinstance(x, str) for x in found):
        return None
    out = []
    for line in found:
        if line.startswith("#"):  # an editable install (tether itself): not installable
            out.append(f"{line}  (install it from its project)")
            continue
        if " --hash=sha256:" not in line:
            return None
        out.append(line)
    return out


def export(
    root: Path, ref: str, to: Path, remote: str | None = None, key: bytes | None = None
) -> Exported:
    """Write the bundle of ``ref`` to ``to`` (which must not exist, or be empty),
    signed with ``key`` when one is given.

    The directory appears whole or not at all: it is written beside ``to`` and
    renamed into place."""
    to = to.absolute()
    if to.is_symlink():
        raise UsageError(
            f"{to} is a symbolic link; a bundle is written as a new directory, not "
            "through a link (it could point anywhere)",
            "Name the directory itself with --to, e.g. its resolved path.",
        )
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise UsageError(
            f"{to} already exists and is not an empty directory",
            "Name a new directory with --to, or remove the old bundle first.",
        )
    located = source.locate(root, revisions.release(root, ref))
    model, schema = source.fetch(root, located, remote)
    release = located.release
    files: dict[str, bytes] = {MODEL_FILE: model}
    if schema is not None:
        files[SCHEMA_FILE] = schema
    manifest = release.manifest
    files[MANIFEST_FILE] = (json.dumps(manifest, indent=2, allow_nan=False) + "\n").encode()
    files[REQUIREMENTS_FILE] = requirements(manifest).encode()
    hashes = {name: _sha256(data) for name, data in files.items()}
    index = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "artifact": release.artifact,
        "version": release.version,
        "tag": release.tag,
        "commit": release.commit,
        "model": {"file": MODEL_FILE, "path": release.model_path, "md5": release.model_md5},
        "schema": (
            {"file": SCHEMA_FILE, "path": located.schema_path, "md5": located.schema_md5}
            if schema is not None
            else None
        ),
        "files": {name: {"sha256": digest} for name, digest in hashes.items()},
    }
    if key is not None:
        index[SIGNATURE] = {"algorithm": "hmac-sha256", "value": _hmac(key, index)}
    files[BUNDLE_FILE] = (json.dumps(index, indent=2) + "\n").encode()

    _write_whole(to, files)
    return Exported(release, to, hashes, signed=key is not None)


def _write_whole(to: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a new directory beside ``to``, then rename it into place
    (over an empty ``to``): the bundle appears whole or not at all."""
    to.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{to.name}.", suffix=".tmp", dir=to.parent))
    try:
        # mkdtemp makes the directory 0700; a bundle is made to be copied and served
        # by another user, so it gets the mode a plain mkdir would (umask applied).
        umask = os.umask(0)
        os.umask(umask)
        temp.chmod(0o777 & ~umask)
        for name, data in files.items():
            (temp / name).write_bytes(data)
        if to.exists():
            to.rmdir()
        os.replace(temp, to)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _read(directory: Path, name: str) -> bytes:
    path = directory / name
    if not path.is_file():
        raise UsageError(
            f"{directory} is not a complete tether bundle: {name} is missing",
            "Export it again with `tether export REF --to DIR`.",
        )
    return path.read_bytes()


def open_bundle(directory: Path, key: bytes | None = None) -> Served:
    """The model of the bundle at ``directory``, every file rehashed before use and,
    with ``key``, its signature checked before any file is read."""
    directory = directory.absolute()
    index = _index(directory)
    trust = _check_signature(directory, index, key)
    listed: dict[str, str] = {n: f["sha256"] for n, f in index["files"].items()}
    model_info = index["model"]
    contents: dict[str, bytes] = {}
    for name, expected in listed.items():
        if "/" in name or name.startswith("."):
            raise UsageError(f"{BUNDLE_FILE} lists a file outside the bundle: {name!r}")
        data = _read(directory, name)
        actual = _sha256(data)
        if actual != expected:
            raise IntegrityError(
                f"bundle file {directory / name} (SHA-256 recorded in {BUNDLE_FILE})",
                expected,
                actual,
                "The bundle was altered after export; nothing was loaded. "
                "Export it again with `tether export REF --to DIR`.",
            )
        contents[name] = data
    for required in (model_info["file"], MANIFEST_FILE):
        if required not in contents:
            raise UsageError(f"{BUNDLE_FILE} does not list {required}; export the bundle again")
    manifest = _manifest(directory, contents[MANIFEST_FILE])
    recorded = (manifest.get("outs") or {}).get(model_info["path"])
    if recorded != model_info["md5"]:
        raise CheckFailed(
            f"the bundle's model md5 {model_info['md5']} is not the one its manifest records "
            f"for {model_info['path']} ({recorded}); nothing was loaded",
            "Export the bundle again with `tether export REF --to DIR`.",
        )
    release = Release(
        artifact=index["artifact"],
        version=index["version"],
        tag=index["tag"],
        commit=index["commit"],
        model_path=model_info["path"],
        model_md5=model_info["md5"],
        manifest=manifest,
        origin=f"bundle {directory} ({trust})",
        verified=key is not None,  # with a key, _check_signature passed or raised
    )
    schema = None
    if index.get("schema"):
        schema = contents.get(index["schema"]["file"])
        if schema is None:
            raise UsageError(f"{BUNDLE_FILE} does not list {SCHEMA_FILE}; export the bundle again")
        check_md5(schema, index["schema"]["md5"], f"{SCHEMA_FILE} of bundle {directory}")
    return load(release, contents[model_info["file"]], schema)


def _check_signature(directory: Path, index: dict[str, Any], key: bytes | None) -> str:
    """How far the bundle is trusted, in words; CheckFailed when ``key`` is given
    and the bundle is unsigned or signed otherwise."""
    signature = index.get(SIGNATURE)
    value = signature.get("value") if isinstance(signature, dict) else None
    if key is None:
        return "unverified: signed, but no key was given" if value else "unverified: not signed"
    if not isinstance(value, str):
        raise CheckFailed(
            f"{directory / BUNDLE_FILE} is not signed, and a key was given; nothing was loaded",
            "Export it again with the key: `tether export REF --to DIR --key-file KEY`.",
        )
    if not hmac.compare_digest(value, _hmac(key, index)):
        raise CheckFailed(
            f"the signature of {directory / BUNDLE_FILE} does not match the key: the bundle "
            "was changed after export, or signed with another key; nothing was loaded",
            "Export it again with the key the server has.",
        )
    return "signature verified"


def _not_a_bundle(directory: Path, name: str, why: str) -> UsageError:
    return UsageError(
        f"{directory / name} is not what `tether export` writes ({why}); nothing was loaded",
        "Export the bundle again with `tether export REF --to DIR`.",
    )


def _index(directory: Path) -> dict[str, Any]:
    """bundle.json, each field it must hold checked for its type: the hashes it
    lists prove the files match it, not that it is well formed."""
    try:
        index = json.loads(_read(directory, BUNDLE_FILE))
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise _not_a_bundle(directory, BUNDLE_FILE, f"not JSON: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        found = index.get("format") if isinstance(index, dict) else type(index).__name__
        raise _not_a_bundle(directory, BUNDLE_FILE, f"format is {found!r}, not {FORMAT!r}")
    files = index.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(f, dict) and isinstance(f.get("sha256"), str) for f in files.values()
    ):
        raise _not_a_bundle(directory, BUNDLE_FILE, "files must map names to their sha256")
    model = index.get("model")
    if not isinstance(model, dict) or not all(
        isinstance(model.get(k), str) for k in ("file", "path", "md5")
    ):
        raise _not_a_bundle(directory, BUNDLE_FILE, "model must give its file, path and md5")
    schema = index.get("schema")
    if schema is not None and not (
        isinstance(schema, dict) and all(isinstance(schema.get(k), str) for k in ("file", "md5"))
    ):
        raise _not_a_bundle(directory, BUNDLE_FILE, "schema must give its file and md5")
    for key in ("artifact", "version", "tag", "commit"):
        if not isinstance(index.get(key), str):
            raise _not_a_bundle(directory, BUNDLE_FILE, f"{key} must be text")
    return index


def _manifest(directory: Path, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise _not_a_bundle(directory, MANIFEST_FILE, f"not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("outs") or {}, dict):
        raise _not_a_bundle(directory, MANIFEST_FILE, "not a release manifest")
    return manifest
