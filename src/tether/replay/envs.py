"""Replayed environments, cached by the lock's hash under the user's cache directory.

``<user cache>/tether/envs/<key>/`` is a complete virtual environment: it is built
in a temporary directory beside it (``.building-*``) and renamed into place only
once every distribution is installed and its files are checked against the
lock's record digests and their bytes against RECORD (``integrity``). A directory
named by its key is therefore always whole; a build that fails or is interrupted
leaves nothing behind. Each reuse checks the environment against the snapshot
taken when it was built, and rebuilds it when anything in it changed.

A process using an environment (or building one) holds a shared ``flock`` on its
``tether-env.lock`` until it exits; ``prune`` takes each one exclusively without
waiting and leaves those in use, naming them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_path

from tether.backends.process import sigterm_as_interrupt
from tether.backends.uv import Interpreter, Uv
from tether.errors import ReplayInstallError
from tether.replay import install, integrity
from tether.replay.lock import Lock, record

BUILDING = ".building-"
MARKER = "tether-env.json"


def cache_root() -> Path:
    """Where replayed environments live (``TETHER_ENV_CACHE`` overrides it)."""
    override = os.environ.get("TETHER_ENV_CACHE")
    return Path(override) if override else user_cache_path("tether") / "envs"


def env_key(lock: Lock, interpreter: Interpreter, partial: bool) -> str:
    """The lock's hash, with the interpreter version that replays it."""
    text = f"{lock.sha256}\n{interpreter.implementation} {interpreter.version}\n{partial}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ReplayedEnv:
    key: str
    path: Path
    interpreter: Interpreter  # the base interpreter it was made from
    reused: bool  # found whole in the cache
    seconds: float  # to find or build it
    packages: int  # distributions installed from the lock
    damage: tuple[str, ...] = ()  # what a reused copy had changed, when it was rebuilt

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"


@dataclass(frozen=True)
class Pruned:
    removed: list[str] = field(default_factory=list)
    bytes: int = 0
    root: str = ""
    in_use: list[str] = field(default_factory=list)  # left: a running process holds them


# The locks this process holds: released when it exits (or the fd is closed).
_held: dict[Path, int] = {}


def _hold(env: Path) -> bool:
    """Take a shared lock on ``env`` for the rest of this process; False when the
    environment is gone (pruned meanwhile) once the lock is taken."""
    if env in _held:
        return True
    try:
        fd = os.open(env / integrity.LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
    except FileNotFoundError:
        return False
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a prune removes it
    if not env.is_dir():
        os.close(fd)
        return False
    _held[env] = fd
    return True


def _release(env: Path) -> None:
    fd = _held.pop(env, None)
    if fd is not None:
        os.close(fd)


def _remove_unless_held(env: Path) -> bool:
    """Remove ``env`` unless a running process holds it (True when removed): its
    lock is taken exclusively, without waiting, for the removal."""
    try:
        fd = os.open(env / integrity.LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        fd = None  # no lock file can be made there: nothing tether runs uses it
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        _remove(env)
        return True
    finally:
        if fd is not None:
            os.close(fd)


def _make_writable(function, path, _exc_info) -> None:  # type: ignore[no-untyped-def]
    os.chmod(os.path.dirname(path), stat.S_IRWXU)
    os.chmod(path, stat.S_IRWXU)
    function(path)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=_make_writable)


def _size(path: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total


def check_installed(lock: Lock, env: Path, resolve: bool) -> None:
    """Every locked distribution is in ``env`` at its version with its recorded
    files; nothing else was installed (unless a partial record let uv resolve)."""
    now = {p.name: p for p in record(prefix=env, find_links=(), hashes=False).packages}
    problems = []
    for package in lock.installable:
        found = now.get(package.name)
        if found is None:
            problems.append(f"{package.name}=={package.version} is missing")
        elif found.version != package.version:
            problems.append(f"{package.name} is {found.version}, not {package.version}")
        elif package.record and found.record != package.record:
            problems.append(
                f"{package.name}=={package.version} installed other files than at release "
                f"(record {package.record[:19]}…, now {(found.record or '-')[:19]}…)"
            )
    if not resolve:
        wanted = {p.name for p in lock.packages}
        extra = sorted(set(now) - wanted)
        if extra:
            problems.append("not in the lock: " + ", ".join(extra))
    if problems:
        raise ReplayInstallError(
            "the replayed environment is not the recorded one: " + "; ".join(problems),
            "The index served other builds than at release; replay from the original "
            "index or wheelhouse (--find-links DIR, --index-url URL).",
        )


def ensure(
    lock: Lock,
    *,
    python: str | None = None,
    index: install.IndexOptions | None = None,
    partial: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> ReplayedEnv:
    """The cached environment for ``lock``, built first when missing.

    Raises InterpreterMissing (no Python of the recorded minor version, or a bad
    ``--python``) and ReplayInstallError (uv could not install the lock exactly);
    either way nothing is left in the cache.
    """
    started = time.perf_counter()
    notify = on_step or (lambda message: None)
    index = index or install.IndexOptions()
    count = len(lock.installable)
    damaged: list[str] = []
    if python is None:
        # A replay of the same lock without --python: the cached environment says
        # which interpreter it was made from, so nothing needs looking up again.
        found = _cached_for(lock, partial)
        if found is not None:
            path, interpreter = found
            damaged = _reusable(path)
            if not damaged:
                seconds = time.perf_counter() - started
                return ReplayedEnv(path.name, path, interpreter, True, seconds, count)
            notify(_rebuilding(path, damaged))
    uv = Uv()
    interpreter = install.find_interpreter(lock.python, lock.implementation, python, uv)
    key = env_key(lock, interpreter, partial)
    root = cache_root()
    final = root / key
    if (final / MARKER).is_file():
        found_damage = _reusable(final)
        if not found_damage:
            seconds = time.perf_counter() - started
            return ReplayedEnv(key, final, interpreter, True, seconds, count)
        damaged = damaged or found_damage
        notify(_rebuilding(final, found_damage))

    root.mkdir(parents=True, exist_ok=True)
    with sigterm_as_interrupt():  # SIGTERM too runs the clean-up below
        _build(lock, uv, interpreter, root, final, index, partial, notify)
    if not _hold(final):
        raise ReplayInstallError(
            f"the replayed environment {final} was removed as it was built "
            "(`tether env prune` ran meanwhile?)",
            "Run the command again.",
        )
    seconds = time.perf_counter() - started
    return ReplayedEnv(key, final, interpreter, False, seconds, count, tuple(damaged))


def _reusable(path: Path) -> list[str]:
    """[] when the cached environment at ``path`` is whole and unchanged since it
    was built (and is now held for this process); else what changed, and then it
    is removed, to be built again."""
    if not _hold(path):
        return ["it was removed meanwhile"]
    found = integrity.damage(path)
    if found:
        _release(path)
        _remove_unless_held(path)  # another replay holding it keeps its copy
    return found


def _rebuilding(path: Path, damaged: list[str]) -> str:
    shown = "; ".join(damaged[:3]) + (f"; and {len(damaged) - 3} more" if len(damaged) > 3 else "")
    return f"the cached environment {path.name} changed since it was built ({shown}): rebuilding it"


def _cached_for(lock: Lock, partial: bool) -> tuple[Path, Interpreter] | None:
    """A whole cached environment of ``lock`` whose base interpreter still exists."""
    for path in cached():
        try:
            marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a build in progress, or not an environment tether made
        if (
            isinstance(marker, dict)
            and marker.get("lock_sha256") == lock.sha256
            and marker.get("partial") == partial
            and Path(str(marker.get("interpreter"))).is_file()
            and (path / "bin" / "python").exists()
        ):
            interpreter = Interpreter(
                str(marker["interpreter"]),
                str(marker.get("python")),
                str(marker.get("implementation", lock.implementation)),
            )
            return path, interpreter
    return None


def _build(
    lock: Lock,
    uv: Uv,
    interpreter: Interpreter,
    root: Path,
    final: Path,
    index: install.IndexOptions,
    partial: bool,
    notify: Callable[[str], None],
) -> None:
    """Build in ``root/.building-*`` and rename to ``final`` once whole; the
    temporary directory is removed whatever happens."""
    count = len(lock.installable)
    building = Path(tempfile.mkdtemp(prefix=BUILDING, dir=root))
    try:
        notify(f"creating a Python {interpreter.version} environment")
        install.create_venv(uv, interpreter, building)  # into an empty directory only
        _hold(building)  # a prune from now on leaves the build alone
        requirements = building / "tether-lock.txt"
        requirements.write_text(lock.requirements(), encoding="utf-8")
        notify(f"installing {count} distributions with uv")
        install.install_lock(uv, lock, building / "bin" / "python", requirements, index, partial)
        check_installed(lock, building, partial)
        altered = integrity.altered_files(building)
        if altered:
            shown = ", ".join(altered[:3]) + (" ..." if len(altered) > 3 else "")
            raise ReplayInstallError(
                f"{len(altered)} installed file(s) differ from the bytes their wheel's "
                f"RECORD lists ({shown}): the archives or uv's cache were altered",
                "Clear uv's cache (`uv cache clean`) and check the wheelhouse or index, "
                "then replay again.",
            )
        (building / MARKER).write_text(
            json.dumps(
                {
                    "lock_sha256": lock.sha256,
                    "python": interpreter.version,
                    "implementation": interpreter.implementation,
                    "interpreter": interpreter.path,
                    "partial": partial,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        integrity.write_snapshot(building)
        try:
            os.rename(building, final)
        except OSError:
            if not (final / MARKER).is_file():  # not another replay that finished first
                raise
    finally:
        _release(building)
        _remove(building)


def cached() -> list[Path]:
    root = cache_root()
    return sorted(p for p in root.iterdir()) if root.is_dir() else []


def prune() -> Pruned:
    """Remove every replayed environment (and any build a killed process left),
    but those a running process holds."""
    removed, freed, in_use = [], 0, []
    for path in cached():
        size = _size(path)
        if path.is_dir() and not path.is_symlink() and not _remove_unless_held(path):
            in_use.append(path.name)
            continue
        _remove(path)  # a stray file; a directory is gone already
        freed += size
        removed.append(path.name)
    return Pruned(removed, freed, str(cache_root()), in_use)
