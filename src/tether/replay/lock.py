"""The environment a release was built in, as a lock that installers read.

A lock is the exact Python (version and implementation), the platform tags
(``packaging.tags``), and every installed distribution at its exact version,
named as PEP 503 normalises names. It is written as a requirements file, the
format pip and uv both install from, one pinned line per distribution::

    numpy==2.4.6 --hash=sha256:<archive> # record=sha256:<installed files>

- ``--hash`` is the SHA-256 of the archive (wheel, or sdist when no wheel was
  used) that the index serves, read from the wheels in the find-links
  directories named by ``UV_FIND_LINKS`` (the variable uv itself reads when it
  replays). A distribution whose archive is not found there has no ``--hash``.
- ``record`` is the SHA-256 of the distribution's RECORD rows for the files it
  put in site-packages (PEP 376/627: each file's own sha256), leaving out what
  installers write themselves (INSTALLER, REQUESTED, direct_url.json, .pyc files,
  scripts with their interpreter path). A replay checks it after installing, so
  every distribution's files are proven to be the recorded ones, hashed or not.
- Editable installs (the project itself, ``pip install -e .``) cannot be locked
  by hash. They are written as comment lines, ``# editable: NAME==VERSION``.

The lock's ``sha256`` is the digest of its canonical text (header and lines);
the replayed environments are cached under it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import re
import sys
import sysconfig
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging import tags as packaging_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from tether import envlock
from tether.errors import LockError

FORMAT = "requirements-hashes/1"

# RECORD rows an installer writes for itself: not part of the archive's files.
_INSTALLER_FILES = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}

_LINE = re.compile(
    r"(?P<name>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)==(?P<version>[A-Za-z0-9.+!_-]+)"
    r"(?P<hashes>(?: --hash=sha256:[0-9a-f]{64})*)"
    r"(?: # record=(?P<record>sha256:[0-9a-f]{64}))?"
)
_EDITABLE = re.compile(
    r"# editable: (?P<name>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)==(?P<version>[A-Za-z0-9.+!_-]+)"
)
_HASH = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class LockedPackage:
    name: str  # PEP 503 normalised
    version: str
    hashes: tuple[str, ...] = ()  # "sha256:..." of the archive the index serves
    record: str | None = None  # "sha256:..." of the files it installed
    editable: bool = False

    def line(self) -> str:
        if self.editable:
            return f"# editable: {self.name}=={self.version}"
        text = f"{self.name}=={self.version}"
        text += "".join(f" --hash={h}" for h in self.hashes)
        if self.record:
            text += f" # record={self.record}"
        return text


@dataclass(frozen=True)
class Lock:
    """A whole recorded environment."""

    python: str  # "3.11.7"
    implementation: str  # "cpython"
    tag: str  # the most specific tag this interpreter installs, "cp311-cp311-manylinux_2_36_x86_64"
    platforms: tuple[str, ...]  # packaging.tags.platform_tags(), most specific first
    packages: tuple[LockedPackage, ...]

    @property
    def python_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    def lines(self) -> list[str]:
        return [p.line() for p in self.packages]

    @property
    def sha256(self) -> str:
        header = json.dumps(
            [FORMAT, self.python, self.implementation, self.tag, list(self.platforms)],
            separators=(",", ":"),
        )
        text = header + "\n" + "\n".join(self.lines()) + "\n"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def installable(self) -> list[LockedPackage]:
        return [p for p in self.packages if not p.editable]

    @property
    def editables(self) -> list[LockedPackage]:
        return [p for p in self.packages if p.editable]

    @property
    def fully_hashed(self) -> bool:
        return all(p.hashes for p in self.installable)

    def requirements(self) -> str:
        """The requirements file uv installs (editables stay as comments)."""
        head = f"# tether lock {self.sha256}: Python {self.python} ({self.implementation}), {self.tag}\n"
        return head + "\n".join(self.lines()) + "\n"

    def package(self, name: str) -> LockedPackage | None:
        wanted = canonicalize_name(name)
        return next((p for p in self.packages if p.name == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``lock`` field."""
        return {
            "format": FORMAT,
            "sha256": self.sha256,
            "python": self.python,
            "implementation": self.implementation,
            "tag": self.tag,
            "platforms": list(self.platforms),
            "requirements": self.lines(),
        }


def _corrupt(where: str, what: str) -> LockError:
    return LockError(
        f"the environment lock of {where} is corrupt: {what}",
        "The release's tag message was changed after `tether release` wrote it; "
        "look at it with `tether manifest REF --json`, or verify without --env.",
    )


def parse_line(line: str, where: str = "the release", number: int = 0) -> LockedPackage:
    """One lock line, strictly: anything else is a corrupt lock."""
    editable = _EDITABLE.fullmatch(line)
    match = editable or _LINE.fullmatch(line)
    if match is None:
        raise _corrupt(where, f"line {number} is not a pinned requirement: {line!r}")
    name, version = match["name"], match["version"]
    if canonicalize_name(name) != name:
        raise _corrupt(where, f"line {number}: {name!r} is not a normalised name")
    try:
        Version(version)
    except InvalidVersion:
        raise _corrupt(where, f"line {number}: {version!r} is not a version") from None
    if editable:
        return LockedPackage(name, version, editable=True)
    hashes = tuple(_HASH.findall(match["hashes"] or ""))
    return LockedPackage(name, version, hashes, match["record"])


def from_dict(data: Any, where: str = "the release") -> Lock:
    """The manifest's ``lock`` field back, checked against its own sha256."""
    if not isinstance(data, dict):
        raise _corrupt(where, "the lock field is not an object")
    if data.get("format") != FORMAT:
        raise _corrupt(where, f"unknown lock format {data.get('format')!r} (expected {FORMAT})")
    try:
        lines = data["requirements"]
        python, implementation, tag = data["python"], data["implementation"], data["tag"]
        platforms = data["platforms"]
        recorded = data["sha256"]
    except KeyError as exc:
        raise _corrupt(where, f"the field {exc.args[0]!r} is missing") from None
    texts = [python, implementation, tag, recorded]
    if not all(isinstance(v, str) for v in texts) or not isinstance(platforms, list):
        raise _corrupt(where, "python, implementation, tag and sha256 must be text")
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise _corrupt(where, "requirements must be a list of lines")
    if not re.fullmatch(r"\d+\.\d+\.\d+\S*", python):
        raise _corrupt(where, f"python {python!r} is not a version")
    packages = tuple(parse_line(line, where, n) for n, line in enumerate(lines, start=1))
    names = [p.name for p in packages]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise _corrupt(where, f"{', '.join(twice)} pinned twice")
    lock = Lock(python, implementation, tag, tuple(str(p) for p in platforms), packages)
    if lock.sha256 != recorded:
        raise _corrupt(
            where, f"its content hashes to sha256:{lock.sha256}, not the recorded {recorded}"
        )
    return lock


# --- recording ------------------------------------------------------------------------


def record_digest(rows: Iterable[Sequence[str]], dist_info: str) -> str | None:
    """The digest of a RECORD's rows for the files a wheel put in site-packages.

    Rows the installer writes itself (INSTALLER, REQUESTED, RECORD, direct_url.json,
    uv's own files), compiled .pyc files, and anything outside site-packages
    (``../../../bin/...``: scripts whose first line names this interpreter) are left
    out, so pip and uv installs of one wheel give one digest.
    """
    kept = []
    for row in rows:
        if len(row) < 2 or not row[1]:
            continue
        path, digest = row[0], row[1]
        if path.startswith(("../", "/")) or "__pycache__/" in path or path.endswith(".pyc"):
            continue
        top, _, rest = path.partition("/")
        if top == dist_info and (rest in _INSTALLER_FILES or rest.startswith("uv_")):
            continue
        kept.append(f"{path},{digest}")
    if not kept:
        return None
    return "sha256:" + hashlib.sha256("\n".join(sorted(kept)).encode()).hexdigest()


def _dist_info_name(dist: metadata.Distribution) -> str | None:
    path = getattr(dist, "_path", None)  # PathDistribution: the .dist-info directory
    return Path(path).name if path is not None else None


def is_editable(dist: metadata.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return False
    return bool((info.get("dir_info") or {}).get("editable"))


def _wheel_tags(dist: metadata.Distribution) -> frozenset[packaging_tags.Tag]:
    return _tags_in(dist.read_text("WHEEL") or "")


def _tags_in(wheel_file: str) -> frozenset[packaging_tags.Tag]:
    """The tags a WHEEL metadata file declares (its ``Tag:`` lines)."""
    found: set[packaging_tags.Tag] = set()
    for line in wheel_file.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Tag":
            found.update(packaging_tags.parse_tag(value.strip()))
    return frozenset(found)


def site_packages(prefix: Path | None = None) -> list[Path]:
    """The site-packages directories of the environment at ``prefix`` (this one)."""
    if prefix is None:
        paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    else:
        scheme = {"base": str(prefix), "platbase": str(prefix)}
        paths = [
            sysconfig.get_path("purelib", vars=scheme),
            sysconfig.get_path("platlib", vars=scheme),
        ]
    return [Path(p) for p in dict.fromkeys(paths)]


def installed(prefix: Path | None = None) -> dict[str, tuple[metadata.Distribution, str]]:
    """Every distribution in an environment's site-packages: name -> (dist, version)."""
    found: dict[str, tuple[metadata.Distribution, str]] = {}
    dirs = [str(p) for p in site_packages(prefix)]
    for dist in metadata.distributions(path=dirs):
        name = dist.metadata["Name"]
        if not name:
            continue
        found.setdefault(canonicalize_name(name), (dist, dist.version))
    return dict(sorted(found.items()))


def _describe(dist: metadata.Distribution, name: str, version: str) -> LockedPackage:
    if is_editable(dist):
        return LockedPackage(name, version, editable=True)
    info = _dist_info_name(dist) or ""
    text = dist.read_text("RECORD")
    record = record_digest(csv.reader(text.splitlines()), info) if text else None
    return LockedPackage(name, version, record=record)


@dataclass
class ArchiveIndex:
    """The archives (wheels, sdists) in local find-links directories, by name and
    version; each hashed only when a lock asks for it."""

    wheels: dict[tuple[str, Version], list[tuple[frozenset[packaging_tags.Tag], Path]]] = field(
        default_factory=dict
    )
    sdists: dict[tuple[str, Version], Path] = field(default_factory=dict)

    @classmethod
    def scan(cls, dirs: Iterable[Path]) -> ArchiveIndex:
        index = cls()
        for folder in dirs:
            if not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                try:
                    if entry.name.endswith(".whl"):
                        name, version, _, wheel_tags = parse_wheel_filename(entry.name)
                        key = (str(name), version)
                        index.wheels.setdefault(key, []).append((frozenset(wheel_tags), entry))
                    elif entry.name.endswith((".tar.gz", ".zip")):
                        name, version = parse_sdist_filename(entry.name)
                        index.sdists.setdefault((str(name), version), entry)
                except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
                    continue
        return index

    def archive(
        self, name: str, version: str, installed_tags: frozenset[packaging_tags.Tag]
    ) -> Path | None:
        """The archive that was installed: the wheel whose tags are the installed
        WHEEL's, else the sdist (a wheel built here from it)."""
        try:
            key = (name, Version(version))
        except InvalidVersion:
            return None
        wheels = self.wheels.get(key, [])
        for wheel_tags, path in wheels:
            if wheel_tags == installed_tags:
                return path
        # Some projects (playwright) build a py3-none-any wheel and rename the file
        # to a platform tag: the installed WHEEL then names the tags inside the
        # archive, not those of its file name. Read them from the archive itself.
        for _, path in wheels:
            if _archive_wheel_tags(path) == installed_tags:
                return path
        return self.sdists.get(key)


def _archive_wheel_tags(path: Path) -> frozenset[packaging_tags.Tag]:
    """The tags a wheel's own ``*.dist-info/WHEEL`` file declares (empty when the
    archive cannot be read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1]
            wheel = next((n for n in names if n.endswith(".dist-info/WHEEL")), None)
            if wheel is None:
                return frozenset()
            return _tags_in(archive.read(wheel).decode("utf-8", errors="replace"))
    except (OSError, zipfile.BadZipFile):
        return frozenset()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def find_links_from_env() -> list[Path]:
    """The local find-links directories uv is told about (``UV_FIND_LINKS``, a
    comma-separated list); URLs in it are left to uv."""
    raw = os.environ.get("UV_FIND_LINKS", "")
    dirs = []
    for item in raw.split(","):
        item = item.strip()
        if item.startswith("file://"):
            item = item[len("file://") :]
        if item and "://" not in item:
            dirs.append(Path(item))
    return dirs


def platform_tags() -> tuple[str, tuple[str, ...]]:
    return str(next(iter(packaging_tags.sys_tags()))), tuple(packaging_tags.platform_tags())


def record(
    prefix: Path | None = None,
    find_links: Sequence[Path] | None = None,
    hashes: bool = True,
) -> Lock:
    """The lock of the running interpreter's environment (``prefix`` None) or of
    the environment at ``prefix`` (same interpreter version assumed).

    With ``hashes``, each archive is looked up in ``find_links`` (default: the
    directories in ``UV_FIND_LINKS``) and hashed from its bytes.
    """
    archives = ArchiveIndex.scan(find_links_from_env() if find_links is None else find_links)
    packages = []
    for name, (dist, version) in installed(prefix).items():
        package = _describe(dist, name, version)
        if hashes and not package.editable:
            found = archives.archive(name, version, _wheel_tags(dist))
            if found is not None:
                package = LockedPackage(name, version, (_sha256_file(found),), package.record)
        packages.append(package)
    tag, platforms = platform_tags()
    return Lock(
        python=platform.python_version(),
        implementation=sys.implementation.name,
        tag=tag,
        platforms=platforms,
        packages=tuple(packages),
    )


def manifest_field(find_links: Sequence[Path] | None = None) -> dict[str, Any]:
    """What ``tether release`` stores in the manifest's ``lock`` field."""
    return record(find_links=find_links).to_dict()


def from_uv_lock(found: envlock.UvLock, now: envlock.Running | None = None) -> Lock:
    """A commit's uv.lock as a lock to replay on this interpreter: what the project's
    base dependencies bring for it (``now``: this environment's markers), each pinned
    with every archive hash uv.lock holds; the project itself as an editable."""
    running = now or envlock.running()
    packages = [
        LockedPackage(p.name, p.version, editable=True)
        if p.root
        else LockedPackage(p.name, p.version, tuple(sorted(p.hashes)))
        for p in envlock.required(found, running).values()
    ]
    tag, platforms = platform_tags()
    return Lock(
        python=running.python,
        implementation=running.implementation,
        tag=tag,
        platforms=platforms,
        packages=tuple(packages),
    )
