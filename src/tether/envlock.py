"""The environment a commit pins: its ``uv.lock``, and how a running environment
differs from it.

``uv.lock`` (uv's universal lock, TOML) holds every distribution the project can
install, at one version per resolution fork, with the hashes of its wheels and
sdist. ``make setup`` and ``make repro`` install exactly it (``uv sync --frozen``).
This module reads it at a commit (through ``tether.backends.git``) or in the work
tree, and names each way an environment differs from it, by layer:

- ``packages``: a distribution installed at another version than the lock's, one the
  lock requires that is not installed (the project itself excepted: its stages run
  the checkout's code), or one installed that the lock does not hold;
- ``python``: the interpreter outside the lock's ``requires-python``, or not the one
  the commit's ``.python-version`` names (uv's own pin, when the project has one);
- ``platform``: a locked distribution none of whose wheels runs on this interpreter
  and platform (it would be built from its sdist here, or cannot be installed).

The root packages (``source = { editable = "." }`` or ``virtual``) are the project
itself; their base dependencies are required, and an optional extra counts as chosen
when at least half of the distributions it names (beyond the base) are installed
(``make setup`` installs ``dev``): then the rest of it is named as missing.
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, default_environment
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from tether.backends import process
from tether.backends.git import GitRepo
from tether.errors import ConfigError

LOCK_FILE = "uv.lock"
PYTHON_PIN_FILE = ".python-version"
PACKAGES, PYTHON, PLATFORM = "packages", "python", "platform"

# What to run for each layer (``tether check`` shows it as the fix).
FIXES = {
    PACKAGES: "uv sync --frozen (or `make setup`): installs exactly the commit's uv.lock",
    PYTHON: "make the venv with the Python the lock names (`rm -rf .venv && make setup "
    "PYTHON=python3.X`), then `tether check` again",
    PLATFORM: "build on a platform the lock's wheels cover (or `uv lock` there and commit "
    "the new uv.lock)",
}


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str | None  # set when the lock holds this name at several versions
    marker: str | None


@dataclass(frozen=True)
class LockedPackage:
    name: str  # PEP 503 normalised
    version: str
    root: bool  # the project itself (editable or virtual source ".")
    wheels: tuple[str, ...]  # wheel file names
    sdist: bool
    dependencies: tuple[Dependency, ...] = ()
    extras: dict[str, tuple[Dependency, ...]] = field(default_factory=dict)
    markers: tuple[str, ...] = ()  # resolution-markers: the forks it belongs to
    hashes: tuple[str, ...] = ()  # "sha256:..." of every locked wheel and the sdist


@dataclass(frozen=True)
class UvLock:
    path: str  # where it was read: "uv.lock" or "uv.lock at 1a2b3c4d"
    requires_python: str
    packages: tuple[LockedPackage, ...]
    python_pin: str | None = None  # the commit's .python-version, if any

    def named(self, name: str) -> list[LockedPackage]:
        wanted = canonicalize_name(name)
        return [p for p in self.packages if p.name == wanted]


@dataclass(frozen=True)
class Running:
    """What an interpreter runs: its Python, the tags it installs wheels for, its
    marker environment, and every distribution in its site-packages."""

    python: str  # "3.11.7"
    implementation: str  # "cpython"
    tags: tuple[str, ...]  # packaging.tags.sys_tags(), most specific first
    markers: dict[str, str]
    packages: dict[str, str]  # normalised name -> version


@dataclass(frozen=True)
class Difference:
    layer: str  # packages, python, platform
    subject: str  # a package name, "python" or a package name (platform)
    message: str

    @property
    def fix(self) -> str:
        return FIXES[self.layer]


# --- reading ---------------------------------------------------------------------


def _dependencies(items: Any) -> tuple[Dependency, ...]:
    found = []
    for item in items or ():
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            found.append(
                Dependency(canonicalize_name(item["name"]), item.get("version"), item.get("marker"))
            )
    return tuple(found)


def _package(data: dict[str, Any]) -> LockedPackage:
    source = data.get("source") or {}
    root = source.get("editable") == "." or source.get("virtual") == "."
    extras = {
        str(name): _dependencies(items)
        for name, items in (data.get("optional-dependencies") or {}).items()
    }
    for name, items in (data.get("dev-dependencies") or {}).items():
        extras.setdefault(f"group:{name}", _dependencies(items))
    return LockedPackage(
        name=canonicalize_name(str(data["name"])),
        version=str(data.get("version", "")),
        root=root,
        wheels=tuple(
            str(w["url"]).rsplit("/", 1)[-1] if "url" in w else str(w.get("filename", ""))
            for w in data.get("wheels") or ()
            if isinstance(w, dict)
        ),
        sdist=bool(data.get("sdist")),
        dependencies=_dependencies(data.get("dependencies")),
        extras=extras,
        markers=tuple(data.get("resolution-markers") or ()),
        hashes=tuple(
            str(item["hash"])
            for item in [*(data.get("wheels") or ()), data.get("sdist") or {}]
            if isinstance(item, dict) and str(item.get("hash", "")).startswith("sha256:")
        ),
    )


def parse(text: bytes, where: str = LOCK_FILE, python_pin: bytes | None = None) -> UvLock:
    """A uv.lock's bytes as a ``UvLock``; ConfigError naming ``where`` when it is not one."""
    try:
        data = tomllib.loads(text.decode("utf-8"))
        packages = tuple(_package(p) for p in data.get("package") or ())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{where} is not a uv lock: {exc}",
            "Write it again with `uv lock`, then commit it.",
        ) from None
    if not isinstance(data.get("version"), int):
        raise ConfigError(f"{where} is not a uv lock: it has no version", "Run `uv lock`.")
    pin = python_pin.decode("utf-8", errors="replace") if python_pin else ""
    first = next((ln.strip() for ln in pin.splitlines() if ln.strip()[:1].isdigit()), None)
    return UvLock(where, str(data.get("requires-python") or ""), packages, first)


def read(root: Path, commit: str | None = None, git: GitRepo | None = None) -> UvLock | None:
    """The uv.lock at ``commit`` (the work tree's when None); None when there is none."""
    if commit is None:
        lock, pin = root / LOCK_FILE, root / PYTHON_PIN_FILE
        if not lock.is_file():
            return None
        return parse(lock.read_bytes(), LOCK_FILE, pin.read_bytes() if pin.is_file() else None)
    door = git or GitRepo(root)
    try:
        data = door.read_blob(commit, LOCK_FILE)
        if data is None:
            return None
        pin_data = door.read_blob(commit, PYTHON_PIN_FILE)
    finally:
        if git is None:
            door.close()
    return parse(data, f"{LOCK_FILE} at {commit[:8]}", pin_data)


# --- the running environment -------------------------------------------------------


def _site_packages() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def running() -> Running:
    """This interpreter's environment (its site-packages only: not PYTHONPATH)."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions(path=_site_packages()):
        name = dist.metadata["Name"]
        if name:
            packages.setdefault(canonicalize_name(name), dist.version)
    return Running(
        python=platform.python_version(),
        implementation=sys.implementation.name,
        tags=tuple(str(t) for t in sys_tags()),
        markers={str(k): str(v) for k, v in default_environment().items()},
        packages=dict(sorted(packages.items())),
    )


# Run by another interpreter (``python -c``): ``running()``'s fields, with only the
# standard library (the markers as packaging's ``default_environment`` computes them)
# and, when it has it, packaging for the tags (else none: the platform is unchecked).
_PROBE = r"""
import json, platform, re, sys, sysconfig
from importlib import metadata
paths = sysconfig.get_paths()
dirs = list(dict.fromkeys([paths["purelib"], paths["platlib"]]))
packages = {}
for dist in metadata.distributions(path=dirs):
    name = dist.metadata["Name"]
    if name:
        packages.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
try:
    from packaging.tags import sys_tags
    tags = [str(t) for t in sys_tags()]
except Exception:
    tags = []
impl = sys.implementation
iver = "{0.major}.{0.minor}.{0.micro}".format(impl.version)
if impl.version.releaselevel != "final":
    iver += impl.version.releaselevel[0] + str(impl.version.serial)
markers = {"implementation_name": impl.name, "implementation_version": iver,
    "os_name": __import__("os").name, "platform_machine": platform.machine(),
    "platform_release": platform.release(), "platform_system": platform.system(),
    "platform_version": platform.version(), "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform}
print(json.dumps({"python": platform.python_version(), "implementation":
    sys.implementation.name, "tags": tags, "markers": markers, "packages": packages}))
"""


def running_in(python: str, cwd: Path) -> Running | None:
    """``running()`` as another interpreter sees it (a stage's, in a replayed or
    second environment); None when it cannot say."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    found = process.python_json(python, _PROBE, env, cwd)
    if not found:
        return None
    return Running(
        python=str(found.get("python", "")),
        implementation=str(found.get("implementation", "")),
        tags=tuple(found.get("tags") or ()),
        markers={str(k): str(v) for k, v in (found.get("markers") or {}).items()},
        packages=dict(sorted((found.get("packages") or {}).items())),
    )


# --- differences -----------------------------------------------------------------


def _applies(marker: str | None, now: Running) -> bool:
    if not marker or not now.markers:
        return True
    try:
        return Marker(marker).evaluate({**now.markers, "extra": ""})
    except (InvalidMarker, KeyError, TypeError):
        return True


def _resolve(lock: UvLock, dep: Dependency, now: Running) -> LockedPackage | None:
    """The locked package a dependency names, for this environment's fork."""
    candidates = [p for p in lock.named(dep.name) if dep.version in (None, p.version)]
    if len(candidates) > 1:
        forked = [p for p in candidates if any(_applies(m, now) for m in p.markers)]
        candidates = forked or candidates
    return candidates[0] if candidates else None


def _closure(lock: UvLock, deps: tuple[Dependency, ...], now: Running) -> dict[str, LockedPackage]:
    found: dict[str, LockedPackage] = {}
    todo = [d for d in deps if _applies(d.marker, now)]
    while todo:
        dep = todo.pop()
        package = _resolve(lock, dep, now)
        if package is None or package.name in found:
            continue
        found[package.name] = package
        todo.extend(d for d in package.dependencies if _applies(d.marker, now))
    return found


def required(lock: UvLock, now: Running) -> dict[str, LockedPackage]:
    """The roots and what their base dependencies bring, for this environment."""
    roots = [p for p in lock.packages if p.root]
    found: dict[str, LockedPackage] = {p.name: p for p in roots}
    for root in roots:
        found.update(_closure(lock, root.dependencies, now))
    return dict(sorted(found.items()))


def wanted(lock: UvLock, now: Running) -> dict[str, LockedPackage]:
    """The distributions this environment should hold: the roots' base dependencies,
    plus each extra at least half of whose own distributions are installed."""
    roots = [p for p in lock.packages if p.root]
    base = required(lock, now)
    chosen = dict(base)
    for root in roots:
        for deps in root.extras.values():
            own = {d.name for d in deps if _applies(d.marker, now)} - set(base)
            present = [name for name in own if name in now.packages]
            # A seeded pip alone does not choose the dev extra; half of it does.
            if own and 2 * len(present) >= len(own):
                chosen.update(_closure(lock, deps, now))
    return chosen


def _python_differences(lock: UvLock, now: Running) -> list[Difference]:
    found = []
    try:
        inside = not lock.requires_python or Version(now.python) in SpecifierSet(
            lock.requires_python
        )
    except (InvalidSpecifier, InvalidVersion):
        inside = True
    if not inside:
        found.append(
            Difference(
                PYTHON,
                "python",
                f"Python {now.python} is outside the lock's requires-python "
                f"{lock.requires_python} ({lock.path})",
            )
        )
    pin = (lock.python_pin or "").removeprefix("cpython-").removeprefix("cpython@")
    if pin and pin[:1].isdigit():
        parts = pin.split(".")
        if now.python.split(".")[: len(parts)] != parts:
            found.append(
                Difference(
                    PYTHON,
                    "python",
                    f"Python {now.python} runs; the commit's {PYTHON_PIN_FILE} names {pin}",
                )
            )
    return found


def _wheel_runs(filename: str, tags: set[str]) -> bool:
    try:
        _, _, _, wheel_tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return False
    return any(str(t) in tags for t in wheel_tags)


def _platform_differences(packages: dict[str, LockedPackage], now: Running) -> list[Difference]:
    if not now.tags:
        return []
    tags = set(now.tags)
    found = []
    for name, package in sorted(packages.items()):
        if package.root or not package.wheels:
            continue
        if any(_wheel_runs(w, tags) for w in package.wheels):
            continue
        then = "it would be built from its sdist here" if package.sdist else "it cannot install"
        found.append(
            Difference(
                PLATFORM,
                name,
                f"platform: no wheel of {name} {package.version} in the lock runs on "
                f"{now.tags[0]} ({len(package.wheels)} wheel(s) locked; {then})",
            )
        )
    return found


def compare(lock: UvLock, now: Running) -> list[Difference]:
    """Each way ``now`` differs from ``lock``: Python first, then packages, then
    platform."""
    found = _python_differences(lock, now)
    should = wanted(lock, now)
    locked_names = {p.name for p in lock.packages}
    for name, package in sorted(should.items()):
        have = now.packages.get(name)
        if have is None and package.root:
            continue  # the project itself: its stages run the checkout's code
        if have is None:
            found.append(
                Difference(
                    PACKAGES, name, f"package {name}: locked {package.version}, not installed"
                )
            )
        elif have != package.version and have not in {p.version for p in lock.named(name)}:
            found.append(
                Difference(
                    PACKAGES,
                    name,
                    f"package {name}: locked {package.version}, installed {have}",
                )
            )
    for name, have in sorted(now.packages.items()):
        if name not in locked_names:
            found.append(
                Difference(PACKAGES, name, f"package {name}: installed {have}, not in the lock")
            )
    found.extend(_platform_differences(should, now))
    return found


def differences(
    root: Path,
    commit: str | None = None,
    now: Running | None = None,
    git: GitRepo | None = None,
) -> list[Difference] | None:
    """How ``now`` (this interpreter's environment by default) differs from the
    uv.lock at ``commit`` (the work tree's when None); None when there is no uv.lock."""
    lock = read(root, commit, git)
    if lock is None:
        return None
    return compare(lock, now or running())
