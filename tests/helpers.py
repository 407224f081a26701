"""Helpers for building real git + DVC repos in tests and running the real CLIs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(
    *args: str | os.PathLike[str], cwd: Path, check: bool = True, **kw
) -> subprocess.CompletedProcess[str]:
    """Run a command (no shell) and return its completed process with text output."""
    proc = subprocess.run([str(a) for a in args], cwd=cwd, text=True, capture_output=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def git(cwd: Path, *args: str, check: bool = True) -> str:
    return run("git", *args, cwd=cwd, check=check).stdout.strip()


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--allow-empty", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    """Write a file tree: ``{"relative/path": content}``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def init_repo(root: Path, dvc: bool = True) -> Path:
    """A fresh git repo (and DVC, unless told not) at ``root``, with one commit."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    if dvc:
        run(BIN / "dvc", "init", "-q", cwd=root)
        run(BIN / "dvc", "config", "core.analytics", "false", cwd=root)
    commit_all(root, "init")
    return root


def tether(cwd: Path, *args: str, check: bool = False, **kw) -> subprocess.CompletedProcess[str]:
    """Run the real ``tether`` console script."""
    return run(BIN / "tether", *args, cwd=cwd, check=check, **kw)


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(BIN / "dvc", *args, cwd=cwd, check=check)


def copy_repo(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def require_executable(name: str, package: str) -> str:
    """The path of ``name``; a test that needs a Debian package (listed in
    tools/apt-packages.txt) is skipped where it is missing, with the command that
    installs it, except under CI, where a missing package is a failure."""
    import pytest

    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found: install it with `sudo apt-get install {package}`"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must have it: add it to tools/apt-packages.txt)")
    pytest.skip(message)
