"""`tether run` under concurrency and signals, on a tiny Hydra + DVC project whose one
stage sleeps: a second run never touches the first's workspace, and Ctrl-C or
SIGTERM stops the stage command with tether."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import BIN, run, tether

pytestmark = pytest.mark.slow


_TEXT: dict = {"capture_output": True, "text": True, "check": True}


def _start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "tether"), "run", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_stage(root: Path, proc: subprocess.Popen[str]) -> int:
    """The PID of the stage command once it has started."""
    deadline = time.monotonic() + 60
    started = root / "started"
    while not (started.exists() and started.read_text().strip()):
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the stage never started")
        time.sleep(0.05)
    return int(started.read_text().split()[0])


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (allowing a moment for init to reap an orphan)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _params(root: Path) -> dict:
    return yaml.safe_load((root / "params.yaml").read_text())


def test_second_run_refuses_or_waits_and_never_mixes_params(sleepy: Path) -> None:
    first = _start(sleepy, "value=2", "seconds=4")
    _wait_for_stage(sleepy, first)
    params, recorded = (
        (sleepy / "params.yaml").read_bytes(),
        (sleepy / ".tether/overrides.yaml").read_bytes(),
    )

    refused = tether(sleepy, "run", "value=3", "seconds=0")
    assert refused.returncode == 3, refused.stderr
    assert f"another `tether run` (PID {first.pid}) is running" in refused.stderr
    assert "nothing was written" in refused.stderr
    assert "--wait" in refused.stderr
    assert (sleepy / "params.yaml").read_bytes() == params
    assert (sleepy / ".tether/overrides.yaml").read_bytes() == recorded

    waiting = _start(sleepy, "--wait", "value=3", "seconds=0")
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    # The first run finished with its own params: output, params.yaml, lock agree.
    assert (sleepy / "out.txt").read_text() == "2"
    _, waited_err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, waited_err
    assert f"waiting for the `tether run` in progress (PID {first.pid})" in waited_err
    assert (sleepy / "out.txt").read_text() == "3"
    assert _params(sleepy)["value"] == 3
    lock = yaml.safe_load((sleepy / "dvc.lock").read_text())
    assert lock["stages"]["slow"]["params"]["params.yaml"]["value"] == 3


@pytest.mark.parametrize(
    ("how", "code", "name"), [("ctrl-c", 130, "SIGINT"), ("sigterm", 143, "SIGTERM")]
)
def test_signal_stops_the_stage_and_names_the_way_back(
    sleepy: Path, how: str, code: int, name: str
) -> None:
    proc = _start(sleepy, "value=5", "seconds=30")
    stage_pid = _wait_for_stage(sleepy, proc)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole group
    else:
        os.kill(proc.pid, signal.SIGTERM)  # tether alone, as a process manager would
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == code, err
    assert f"error: stage 'slow' was interrupted by {name}" in err
    assert "git checkout -- params.yaml .tether/overrides.yaml && dvc checkout --force`" in err
    assert "If an override caused this" not in err and "Traceback" not in err.split("error:")[1]
    # The stage command is gone with tether: it never writes its output.
    assert _gone(stage_pid)
    assert not (sleepy / "out.txt").exists()
    # The lock went with the run: the next one starts at once.
    again = tether(sleepy, "run", "seconds=0")
    assert again.returncode == 0, again.stderr


def test_dvc_lock_left_by_a_killed_run_is_named_with_its_pid(sleepy: Path) -> None:
    import sys

    run("dvc", "config", "core.hardlink_lock", "true", cwd=sleepy)
    # What a `tether run` killed (SIGKILL) while DVC held its repository lock leaves:
    # flufl.lock's claim file with the lock hard-linked to it, and tether's own
    # lock file still naming the dead run.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_TEXT)
    tmp = sleepy / ".dvc/tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    claim = tmp / "0123456789abcdef0123456789abcdef.lock"
    claim.write_text(str(claim))
    os.link(claim, tmp / "lock")
    (tmp / "tether-run.lock").write_text(dead.stdout)

    again = tether(sleepy, "run", "seconds=0")
    assert again.returncode == 3, again.stderr
    assert "error: DVC's lock on" in again.stderr
    pid = dead.stdout.strip()
    assert f"left by `tether run` PID {pid}, which was killed and no longer runs" in again.stderr
    fix = again.stderr.split("Remove it: `", 1)[1].split("`", 1)[0]
    assert fix == f"rm -f .dvc/tmp/lock .dvc/tmp/{claim.name}"
    run(*fix.split(), cwd=sleepy)
    assert tether(sleepy, "run", "seconds=0").returncode == 0
