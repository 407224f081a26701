"""A verify stopped by Ctrl-C or SIGTERM while a stage runs leaves no worktree
directory and no git worktree registration behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import BIN, git

pytestmark = pytest.mark.slow


def _wait_for_sleeping_stage(proc: subprocess.Popen[str], tmp: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        logs = list(tmp.glob("tether-verify-*/stages.log"))
        if any("make is sleeping" in log.read_text() for log in logs):
            return
        if proc.poll() is not None:
            raise AssertionError(f"verify ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the stage never started")
        time.sleep(0.1)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_verify_leaves_nothing_behind(
    tiny_copy: Path, tmp_path: Path, how: str
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [str(BIN / "tether"), "verify", "slow"],
        cwd=tiny_copy,
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _wait_for_sleeping_stage(proc, tmp)
    assert len(git(tiny_copy, "worktree", "list", "--porcelain").split("worktree ")) == 3

    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole group
    else:
        os.kill(proc.pid, signal.SIGTERM)  # tether alone, as a process manager would
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "error: interrupted; the temporary worktree was removed" in err
    assert list(tmp.iterdir()) == []
    assert git(tiny_copy, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not list((tiny_copy / ".git" / "worktrees").glob("*"))
