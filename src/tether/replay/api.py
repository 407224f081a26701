"""Environment replay: what a release recorded about its environment, how the
current one differs, and verifying a release inside its replayed environment.

What runs where in ``verify``: the stage commands (the code that makes every
output) run in the replayed environment: its ``python`` is first on PATH, with
only its packages importable (no PYTHONPATH, PYTHONHOME or user site-packages from
the caller). tether itself, DVC and git run in the calling environment: they check
the revision out, bring the inputs, run each stage's command and hash the bytes,
and none of them writes an output's content. Editable installs (the project
itself) are not installed: stages run the checkout's code, as dvc.yaml says.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tether import environment, envlock
from tether.backends.git import GitRepo
from tether.errors import LockError, UsageError
from tether.registry.manifest import Manifest
from tether.replay import envs
from tether.replay import lock as locks
from tether.replay.install import IndexOptions
from tether.revisions import Target, target
from tether.verify.api import Event, VerifyOptions, VerifyResult
from tether.verify.api import verify as verify_commit
from tether.verify.reproduce import EventKind, EventState

# What a manifest made before whole-environment locks holds, and what it lacks.
PARTIAL_MISSING = (
    "the full list of installed distributions (only a few were recorded)",
    "archive hashes and record digests (no exact files)",
    "platform tags",
)


@dataclass(frozen=True)
class Recorded:
    """A release's environment record: a whole lock, or only what an older
    release recorded (``lock`` None; ``python`` and ``packages`` from its manifest)."""

    rev: str
    commit: str
    lock: locks.Lock | None
    python: str
    implementation: str
    platform: str
    packages: dict[str, str]  # the partial record: name -> version
    manifest: Manifest | None  # None: a commit's uv.lock, not a release

    @property
    def partial(self) -> bool:
        return self.lock is None

    def partial_lock(self) -> locks.Lock:
        """What a partial record can replay: its Python and pinned versions, without
        hashes (uv resolves their dependencies now). Editable installs here (the
        project itself) are left out."""
        here = locks.installed()
        packages = []
        for name, version in sorted(self.packages.items()):
            normalised = canonicalize_name(name)
            found = here.get(normalised)
            if found is not None and locks.is_editable(found[0]):
                continue
            packages.append(locks.LockedPackage(normalised, version))
        return locks.Lock(self.python, self.implementation or "cpython", "", (), tuple(packages))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rev": self.rev, "commit": self.commit, "partial": self.partial}
        if self.lock is not None:
            data["lock"] = self.lock.to_dict()
            data["packages"] = {p.name: p.version for p in self.lock.packages}
        else:
            data["python"] = self.python
            data["platform"] = self.platform
            data["packages"] = dict(self.packages)
            data["missing"] = list(PARTIAL_MISSING)
        return data


def recorded(root: Path, rev: str | Target) -> Recorded:
    """The environment the release ``rev`` recorded (typed, or a Target already
    resolved). UsageError when ``rev`` is not a release made by ``tether
    release``; LockError when its lock is corrupt."""
    with GitRepo(root) as git:
        found = rev if isinstance(rev, Target) else target(git, rev)
        rev, commit, manifest = found.text, found.commit, found.manifest
        return _recorded_at(root, git, rev, commit, manifest)


def _recorded_at(
    root: Path, git: GitRepo, rev: str, commit: str, manifest: Manifest | None
) -> Recorded:
    if manifest is None:
        committed = envlock.read(root, commit, git)
        if committed is not None:
            lock = locks.from_uv_lock(committed)
            return Recorded(rev, commit, lock, lock.python, lock.implementation, "", {}, None)
        raise UsageError(
            f"{rev} ({commit[:8]}) is not a release made by `tether release` and has "
            "no uv.lock: no environment was recorded there",
            "Name a release (NAME@vX.Y.Z, NAME#STAGE); `tether show` lists them.",
        )
    return from_manifest(rev, commit, manifest)


def from_manifest(rev: str, commit: str, manifest: Manifest) -> Recorded:
    found = locks.from_dict(manifest.lock, rev) if manifest.lock else None
    return Recorded(
        rev,
        commit,
        found,
        manifest.python,
        manifest.implementation,
        manifest.platform,
        dict(manifest.packages),
        manifest,
    )


# --- the recorded environment and how this one differs -------------------------------


@dataclass(frozen=True)
class PackageChange:
    name: str
    change: str  # added | removed | changed | rebuilt (same version, other files)
    recorded: str | None
    current: str | None


@dataclass
class EnvReport:
    """``tether env REF [--diff]``."""

    record: Recorded
    diff: bool = False
    python: tuple[str, str] | None = None  # (recorded, current) when they differ
    platform: tuple[str, str] | None = None  # most specific tag, when it differs
    packages: list[PackageChange] = field(default_factory=list)
    current_python: str = ""
    current_tag: str = ""

    @property
    def same(self) -> bool:
        return self.python is None and self.platform is None and not self.packages

    def to_dict(self) -> dict[str, Any]:
        data = self.record.to_dict()
        if self.diff:
            data["diff"] = {
                "python": list(self.python) if self.python else None,
                "platform": list(self.platform) if self.platform else None,
                "added": [c.name for c in self.packages if c.change == "added"],
                "removed": [c.name for c in self.packages if c.change == "removed"],
                "changed": {
                    c.name: {"recorded": c.recorded, "current": c.current, "change": c.change}
                    for c in self.packages
                    if c.change in ("changed", "rebuilt")
                },
                "packages": [c.__dict__ for c in self.packages],
            }
        return data


def compare(then: locks.Lock, now: locks.Lock) -> list[PackageChange]:
    """Every distribution added, removed, at another version, or at the same
    version with other files (rebuilt), by name."""
    before = {p.name: p for p in then.packages}
    after = {p.name: p for p in now.packages}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is None and new is not None:
            changes.append(PackageChange(name, "added", None, new.version))
        elif new is None and old is not None:
            changes.append(PackageChange(name, "removed", old.version, None))
        elif old is not None and new is not None:
            if old.version != new.version:
                changes.append(PackageChange(name, "changed", old.version, new.version))
            elif (
                not old.editable
                and not new.editable
                and old.record
                and new.record
                and old.record != new.record
            ):
                changes.append(PackageChange(name, "rebuilt", old.version, new.version))
    return changes


def _compare_partial(record: Recorded, now: locks.Lock) -> list[PackageChange]:
    after = {p.name: p for p in now.packages}
    changes = []
    for name, version in sorted(record.packages.items()):
        new = after.get(canonicalize_name(name))
        if new is None:
            changes.append(PackageChange(canonicalize_name(name), "removed", version, None))
        elif new.version != version:
            changes.append(PackageChange(new.name, "changed", version, new.version))
    return changes


def show(root: Path, rev: str, diff: bool = False) -> EnvReport:
    """The environment ``rev`` recorded and, with ``diff``, how the running one
    (this interpreter's) differs from it."""
    record = recorded(root, rev)
    report = EnvReport(record, diff)
    if not diff:
        return report
    now = locks.record(hashes=False)
    report.current_python, report.current_tag = now.python, now.tag
    if record.lock is not None:
        if (record.lock.implementation, record.lock.python) != (now.implementation, now.python):
            report.python = (
                f"{record.lock.implementation} {record.lock.python}",
                f"{now.implementation} {now.python}",
            )
        if record.lock.tag != now.tag or record.lock.platforms != now.platforms:
            report.platform = (record.lock.tag, now.tag)
        report.packages = compare(record.lock, now)
    else:
        if record.python != now.python:
            report.python = (record.python, now.python)
        report.packages = _compare_partial(record, now)
    return report


# --- verify in the replayed environment ---------------------------------------------


@dataclass
class ReplayResult:
    """``tether verify REF --env``: the verification, and the environment it ran in."""

    verify: VerifyResult
    env: envs.ReplayedEnv
    lock_sha256: str
    partial: bool
    missing: list[str]
    not_replayed: dict[str, Any]
    editables: list[str]

    @property
    def ok(self) -> bool:
        return self.verify.ok

    def to_dict(self) -> dict[str, Any]:
        data = self.verify.to_dict()
        data["replay"] = {
            "replayed": True,
            "env": str(self.env.path),
            "key": self.env.key,
            "reused": self.env.reused,
            "rebuilt_because": list(self.env.damage),
            "seconds": round(self.env.seconds, 3),
            "python": self.env.interpreter.version,
            "interpreter": self.env.interpreter.path,
            "packages": self.env.packages,
            "lock_sha256": self.lock_sha256,
            "partial": self.partial,
            "missing": self.missing,
            "editables_not_installed": self.editables,
            "not_replayed": self.not_replayed,
        }
        return data


def not_replayed() -> dict[str, Any]:
    """What a replay cannot control, as found on this machine."""
    now = environment.capture(())
    return {
        "platform": now["platform"],
        "machine": now["machine"],
        "threads": now["threads"],
        "os_libraries": "the C library and every shared library loaded from the system",
        "cpu": platform.processor() or now["machine"],
    }


def _replayed_capture(
    env: envs.ReplayedEnv, recorded_packages: Sequence[str], outer: dict[str, str | None]
) -> dict[str, Any]:
    """``environment.capture``'s shape for the replayed environment: its Python and
    its packages; the machine's platform and threads (not replayed)."""
    found = environment.capture(())
    installed = locks.installed(env.path)
    packages: dict[str, str | None] = {}
    for name in recorded_packages:
        dist = installed.get(canonicalize_name(name))
        packages[name] = dist[1] if dist else outer.get(name)
    found["python"] = env.interpreter.version
    found["implementation"] = env.interpreter.implementation
    found["packages"] = packages
    return found


@dataclass(frozen=True)
class ReplayOptions:
    """How the recorded environment is rebuilt: the Python to build it with (else
    the recorded one, found or fetched by uv), ``partial`` for a release recorded
    before whole-environment locks, and where packages come from."""

    python: str | None = None
    partial: bool = False
    index: IndexOptions | None = None


def verify(
    root: Path,
    rev: str,
    options: VerifyOptions | None = None,
    replay: ReplayOptions | None = None,
    *,
    on_event: Callable[[Event], None] | None = None,
) -> ReplayResult:
    """Replay the environment release ``rev`` recorded (cached by its lock's hash)
    and verify ``rev`` with every stage command run inside it.

    A release recorded before whole-environment locks is refused (LockError)
    unless ``replay.partial``: then its Python and recorded versions are installed,
    and uv resolves the rest now.
    """
    replay = replay or ReplayOptions()
    notify = on_event or (lambda event: None)
    with GitRepo(root) as git:
        found = target(git, rev)  # the registry is read once, here
    record = recorded(root, found)
    if record.lock is None and not replay.partial:
        names = ", ".join(f"{k} {v}" for k, v in sorted(record.packages.items())) or "none"
        raise LockError(
            f"{rev} was released before tether recorded whole environments: it records "
            f"Python {record.python} and {len(record.packages)} package versions ({names}); "
            f"missing: {'; '.join(PARTIAL_MISSING)}",
            f"Replay from what was recorded with `tether verify {rev} --env --partial` "
            "(uv resolves the other packages now, so it is not an exact replay).",
        )
    to_install = record.lock if record.lock is not None else record.partial_lock()
    notify(Event(EventKind.STEP, "environment", EventState.START))
    env = envs.ensure(to_install, python=replay.python, index=replay.index, partial=record.partial)
    notify(Event(EventKind.STEP, "environment", EventState.DONE, seconds=env.seconds))
    result = verify_commit(root, found, options, on_event=on_event, env_bin=env.bin)
    recorded_names = list(record.packages) or list(environment.DEFAULT_PACKAGES)
    outer = {name: environment.package_version(name) for name in recorded_names}
    result.environment_now = _replayed_capture(env, recorded_names, outer)
    if record.manifest is not None and record.manifest.environment():
        result.environment = environment.differences(
            record.manifest.environment(), result.environment_now
        )
    return ReplayResult(
        verify=result,
        env=env,
        lock_sha256=to_install.sha256,
        partial=record.partial,
        missing=list(PARTIAL_MISSING) if record.partial else [],
        not_replayed=not_replayed(),
        editables=[f"{p.name} {p.version}" for p in to_install.editables],
    )


def prune() -> envs.Pruned:
    return envs.prune()


def cache_dir() -> str:
    return os.fspath(envs.cache_root())
