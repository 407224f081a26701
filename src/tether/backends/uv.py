"""The uv binary and the interpreters it installs for: run uv with an environment
that forbids Python downloads, and ask an interpreter its version.

What to ask uv for (a lock installed exactly, its refusals turned into errors) is
``tether.replay.install``'s; this module only starts the processes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PROBE = "import platform, sys; print(platform.python_version()); print(sys.implementation.name)"


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # "3.11.7"
    implementation: str  # "cpython"


@dataclass
class Uv:
    """Runs the uv binary with an environment that forbids Python downloads."""

    binary: str = field(default_factory=lambda: _find_uv())

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"})
        env.pop("VIRTUAL_ENV", None)  # uv must act on the environment it is given
        return env

    def run(self, args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args],
            cwd=cwd,
            env=self.env(),
            text=True,
            capture_output=True,
            check=False,
        )


def _find_uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def probe(path: str) -> Interpreter | None:
    """The version and implementation of the interpreter at ``path``; None when it
    is not one."""
    try:
        proc = subprocess.run(
            [path, "-I", "-c", _PROBE], text=True, capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) != 2:
        return None
    return Interpreter(path, lines[0], lines[1])
