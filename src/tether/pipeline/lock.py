"""One ``tether run`` at a time per workspace.

Two runs in one workspace would each write params.yaml and the overrides file, and
the first would then record in dvc.lock the params the second composed beside a
model trained with its own: a state that every later check calls reproducible. So
``tether run`` takes this lock before it reads or writes anything and holds it to
the end; a second run waits for it (``--wait``) or stops at once, naming the PID
that holds it, having written nothing.

An advisory ``flock`` on ``.dvc/tmp/tether-run.lock`` (DVC's own ignored scratch
folder). The kernel drops it when the holder dies, even by SIGKILL, so a stale
lock is impossible; the file only tells who holds it. DVC's ``zc.lockfile`` does
the same but cannot wait, hence these few lines.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tether.errors import WorkspaceBusy

LOCK_FILE = Path(".dvc") / "tmp" / "tether-run.lock"


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"


@contextmanager
def workspace_lock(
    root: Path, wait: bool = False, on_wait: Callable[[str], None] | None = None
) -> Iterator[str | None]:
    """Hold the workspace lock of ``root`` while inside.

    Without ``wait``, raises WorkspaceBusy naming the holder's PID when another
    process holds it; with ``wait``, calls ``on_wait(pid)`` and blocks until that
    process is done. Yields the PID of an earlier run that ended without letting
    go (killed: SIGKILL, a crash), if any: what it left, DVC's own lock included,
    is its doing.
    """
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # No O_TRUNC: the loser must not erase the holder's PID.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            if not wait:
                raise WorkspaceBusy(
                    f"another `tether run` (PID {pid}) is running in {root}; nothing was written",
                    "Wait for it to finish, or add --wait to start as soon as it is done.",
                ) from None
            if on_wait is not None:
                on_wait(pid)
            fcntl.flock(fd, fcntl.LOCK_EX)
        killed = _holder(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield killed if killed != "unknown" else None
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
