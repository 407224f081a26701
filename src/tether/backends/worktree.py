"""A temporary git worktree that is always removed (verify's rebuilds, tune's
trials and replay's environment checks each work in one): on success, on error, on
Ctrl-C (SIGINT) and on SIGTERM. Removing means both the directory and git's
registration of it (``.git/worktrees/<name>``), so ``git worktree list`` is left
as it was found.

Only SIGKILL can skip the cleanup; the next verify removes what such a run left:
each temporary directory holds the PID of the verify that made it (``OWNER``), and
a registered worktree of tether's (by its ``PREFIX``) whose owner is dead is
removed, directory and registration. A worktree kept with ``keep`` has no owner
file and stays until its user removes it.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tether.backends.git import GitRepo
from tether.backends.process import sigterm_as_interrupt

PREFIX = "tether-verify-"
OWNER = "owner.pid"


def _make_writable(function, path, _exc_info) -> None:  # type: ignore[no-untyped-def]
    """rmtree's error hook: cache objects are read-only; make writable and retry."""
    os.chmod(os.path.dirname(path), stat.S_IRWXU)
    os.chmod(path, stat.S_IRWXU)
    function(path)


def remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path, onerror=_make_writable)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale(git: GitRepo, prefix: str = PREFIX) -> list[Path]:
    """Remove tether's temporary worktrees named ``prefix...`` whose process was
    killed (its owner PID no longer runs); ``git worktree prune`` leaves them, as
    their directories exist. Returns the directories removed."""
    removed = []
    for tree in git.worktree_paths():
        parent = tree.parent
        owner = parent / OWNER
        if not parent.name.startswith(prefix) or not owner.is_file():
            continue
        text = owner.read_text(encoding="ascii", errors="replace").strip()
        if not text.isdigit() or _alive(int(text)):
            continue
        remove_tree(parent)
        git.remove_worktree(tree)
        removed.append(parent)
    git.run("worktree", "prune")  # registrations whose directory is gone
    return removed


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold a second Ctrl-C or SIGTERM until the cleanup is done."""
    signals = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def temporary_worktree(
    git: GitRepo, commit: str, keep: bool = False, prefix: str = PREFIX
) -> Iterator[Path]:
    """A detached worktree of ``commit`` in a new temporary directory.

    Yields the worktree's path. Unless ``keep``, the directory is deleted and the
    worktree unregistered however the block ends; with ``keep`` both stay for
    inspection (``git worktree remove PATH`` cleans up later).
    """
    remove_stale(git, prefix)  # what a killed run left
    parent = Path(tempfile.mkdtemp(prefix=f"{prefix}{commit[:8]}-"))
    (parent / OWNER).write_text(f"{os.getpid()}\n", encoding="ascii")
    tree = parent / "repo"
    # Signals are armed before git creates anything, so there is no moment at
    # which an interrupt could leave a worktree behind.
    with sigterm_as_interrupt():
        try:
            git.add_worktree(tree, commit)
            yield tree
        finally:
            if keep:
                (parent / OWNER).unlink(missing_ok=True)  # kept: no later verify removes it
            else:
                with _signals_blocked():
                    # The directory first (a half-created one included), then the
                    # registration, which git prunes once the directory is gone.
                    remove_tree(parent)
                    git.remove_worktree(tree)
