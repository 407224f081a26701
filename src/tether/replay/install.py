"""uv, the installer: find an interpreter, make a virtual environment, install a
lock exactly into it, and turn uv's refusals into errors that name the package,
the version and the index.

uv comes from its PyPI wheel (``uv.find_uv_bin()``); it is asked for nothing it
would have to decide: ``--no-deps`` with every distribution pinned by ``==`` (no
resolution, no upgrade), ``--require-hashes`` when every pin has an archive hash
(else the hashes there are are still checked), and never a Python download.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tether.backends.uv import Interpreter, Uv, probe
from tether.errors import InterpreterMissing, ReplayInstallError
from tether.replay.lock import Lock


@dataclass(frozen=True)
class IndexOptions:
    """Where uv takes archives from: ``--find-links`` directories or URLs, an
    ``--index-url``, or ``--no-index``; empty means uv's own settings (its
    ``UV_*`` variables and uv.toml, else PyPI)."""

    find_links: tuple[str, ...] = ()
    index_url: str | None = None
    no_index: bool = False

    def args(self) -> list[str]:
        args: list[str] = []
        for link in self.find_links:
            args += ["--find-links", link]
        if self.index_url:
            args += ["--index-url", self.index_url]
        if self.no_index:
            args.append("--no-index")
        return args

    def describe(self) -> str:
        parts = [f"find-links {link}" for link in self.find_links]
        env_links = os.environ.get("UV_FIND_LINKS")
        if env_links and not self.find_links:
            parts.append(f"find-links {env_links} (UV_FIND_LINKS)")
        if self.no_index or os.environ.get("UV_NO_INDEX") in ("1", "true"):
            parts.append("no index")
        elif self.index_url:
            parts.append(f"index {self.index_url}")
        else:
            index = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL")
            parts.append(
                f"index {index}" if index else "index https://pypi.org/simple (uv's default)"
            )
        return ", ".join(parts)


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def find_interpreter(
    lock_python: str, implementation: str, given: str | None, uv: Uv
) -> Interpreter:
    """The interpreter to replay with: ``given`` (``--python``), else the one uv
    finds on this machine for the recorded version (exact first, then the same
    minor version). A minor version other than the recorded one is refused."""
    minor = _minor(lock_python)
    if given is not None:
        found = probe(given)
        if found is None:
            raise InterpreterMissing(
                f"--python {given} is not a Python interpreter that runs here",
                f"Give the path of a Python {minor} executable, e.g. --python /usr/bin/python{minor}.",
            )
        if _minor(found.version) != minor or found.implementation != implementation:
            raise InterpreterMissing(
                f"--python {given} is {found.implementation} {found.version}; the release was "
                f"built with {implementation} {lock_python}",
                f"Give a {implementation} {minor} interpreter with --python.",
            )
        return found
    for request in (lock_python, minor):
        proc = uv.run(["python", "find", "--system", "--no-project", request])
        path = proc.stdout.strip()
        if proc.returncode == 0 and path:
            found = probe(path)
            if (
                found is not None
                and _minor(found.version) == minor
                and found.implementation == implementation
            ):
                return found
    raise InterpreterMissing(
        f"Python {minor} ({implementation} {lock_python} built the release) is not on this machine",
        f"Install Python {minor} (your OS packages, pyenv or `uv python install {lock_python}`), "
        "or give an interpreter with --python PATH.",
    )


def create_venv(uv: Uv, interpreter: Interpreter, target: Path) -> None:
    """A relocatable virtual environment at ``target`` (its scripts find their
    interpreter relative to themselves, so the directory can be renamed)."""
    proc = uv.run(
        ["venv", "--relocatable", "--no-project", "--python", interpreter.path, str(target)]
    )
    if proc.returncode != 0:
        raise ReplayInstallError(
            f"uv could not create a virtual environment with {interpreter.path}: "
            f"{_reason(proc.stderr)}",
            "Check that the interpreter works, or give another with --python PATH.",
        )


_MISSING = re.compile(
    r"no version of|not found in the package registry|no matching distribution|"
    r"because .* was not found|no wheels? |could not find|not available",
    re.IGNORECASE,
)
_NETWORK = re.compile(
    r"failed to fetch|error sending request|dns error|connection refused|timed out|"
    r"network|offline|failed to connect",
    re.IGNORECASE,
)
_HASH_MISMATCH = re.compile(r"hash mismatch|hashes? .*do(?:es)? not match", re.IGNORECASE)


# uv's progress lines (they name paths, not causes).
_PROGRESS = ("Using ", "Resolved ", "Prepared ", "Installed ", "Uninstalled ", "Audited ")


def _reason(stderr: str) -> str:
    """uv's message, its tree drawing and progress lines removed, on one line."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.strip(" │╰─▶×├┬┴┼╭╮╯┤").strip()
        if line and not line.startswith(("hint:", "help:", "warning:", *_PROGRESS)):
            lines.append(line)
    return " ".join(lines) or "no message"


def _named_package(lock: Lock, stderr: str) -> str | None:
    """The locked distribution uv's message names: a pin ``NAME==VERSION`` it
    quotes, else the first locked name in it."""
    lowered = _reason(stderr).lower().replace("_", "-")
    pinned = {p.name: p for p in lock.installable}
    for name, version in re.findall(r"([a-z0-9][a-z0-9.-]*)==([^\s,;]+)", lowered):
        found = pinned.get(re.sub(r"[-.]+", "-", name))
        if found is not None and found.version.lower() == version.rstrip("."):
            return f"{found.name}=={found.version}"
    best: tuple[int, str] | None = None
    for package in lock.installable:
        match = re.search(rf"(?<![a-z0-9-]){re.escape(package.name)}(?![a-z0-9])", lowered)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), f"{package.name}=={package.version}")
    return best[1] if best else None


def install_error(lock: Lock, stderr: str, index: IndexOptions) -> ReplayInstallError:
    """uv's refusal, named: which package and version, from which index, and why."""
    reason = _reason(stderr)
    named = _named_package(lock, stderr)
    what = named or "the lock"
    where = index.describe()
    if _HASH_MISMATCH.search(stderr):
        message = f"the archive of {what} from {where} does not have the recorded hash: {reason}"
        hint = "The index serves other bytes than at release: restore the original file there."
    elif _NETWORK.search(stderr):
        message = f"no index reachable to install {what} ({where}): {reason}"
        hint = "Connect to the index, or point at a wheelhouse with --find-links DIR --no-index."
    elif _MISSING.search(stderr):
        message = f"{where} does not have {what}: {reason}"
        hint = (
            "Replay from an index or wheelhouse that still has that version "
            "(--find-links DIR, --index-url URL); nothing else is substituted."
        )
    else:
        message = f"uv could not install {what} from {where}: {reason}"
        hint = "Read uv's message above; tether installs nothing but the recorded lock."
    return ReplayInstallError(message, hint)


def install_lock(
    uv: Uv,
    lock: Lock,
    python: Path,
    requirements: Path,
    index: IndexOptions,
    resolve: bool = False,
) -> None:
    """Install ``requirements`` (the lock's text) into the environment of ``python``.

    ``resolve`` is only for a partial record (an old release): the recorded pins are
    installed with whatever dependencies uv finds for them now.
    """
    # Copies, not uv's default hard links into its cache: a cached environment and
    # uv's cache would otherwise share every file, and damage to either copy would
    # reach the other (and every later environment built from it).
    args = ["pip", "install", "--python", str(python), "--link-mode=copy", "-r", str(requirements)]
    if not resolve:
        args += ["--no-deps"]
        if lock.fully_hashed:
            args.append("--require-hashes")
    proc = uv.run(args + index.args())
    if proc.returncode != 0:
        raise install_error(lock, proc.stderr, index)
