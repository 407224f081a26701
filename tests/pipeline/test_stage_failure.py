"""Exit codes of a failed `tether run`: 4 when a stage's own command failed, 3 when
DVC (or git, or a remote) did, so a CI script can tell them apart."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git, tether


def test_a_failing_stage_command_exits_4_and_dvc_failing_exits_3(sleepy: Path) -> None:
    """A CI script tells "the pipeline failed" from "the infrastructure failed"."""
    failed = tether(sleepy, "run", "seconds=abc")  # time.sleep("abc") raises
    assert failed.returncode == 4, failed.stderr
    assert "error: stage 'slow' failed: failed to run: python stage.py, exited with 1" in (
        failed.stderr
    )
    assert "git checkout -- params.yaml .tether/overrides.yaml" in failed.stderr

    # DVC itself cannot run the stage (a dependency is missing): exit 3.
    (sleepy / "stage.py").unlink()
    missing = tether(sleepy, "run", "seconds=0")
    assert missing.returncode == 3, missing.stderr
    assert "error: stage 'slow' failed: [Errno 2] No such file or directory: " in missing.stderr
    assert "stage.py" in missing.stderr


def test_run_with_C_from_outside_the_repository(sleepy: Path) -> None:
    """`tether run -C DIR` started outside DIR runs the stages (DVC saved the stage to
    its run-cache relative to the current directory and failed, exit 3)."""
    ran = tether(sleepy.parent, "run", "-C", sleepy.name, "seconds=0")
    assert ran.returncode == 0, ran.stderr
    assert "1 of 1 stages ran" in ran.stdout, ran.stdout
    git(sleepy, "add", "-A")
    git(sleepy, "commit", "-qm", "seconds=0")
    check = tether(sleepy.parent, "check", "-C", sleepy.name)
    assert check.returncode == 0 and "reproducible" in check.stdout, check.stdout + check.stderr


def test_a_stage_taken_from_the_run_cache_is_called_restored(sleepy: Path) -> None:
    """Outputs lost, deps and params unchanged: DVC takes them from its run-cache
    instead of running the command, and tether says so rather than "ran"."""
    first = tether(sleepy, "run", "value=7")
    assert first.returncode == 0, first.stderr
    assert "[1/1] slow ran in" in first.stderr + first.stdout
    (sleepy / "out.txt").unlink()
    (sleepy / "started").unlink()  # written by the command only: it must not run again
    again = tether(sleepy, "run")
    assert again.returncode == 0, again.stderr
    shown = again.stderr + again.stdout
    assert "[1/1] slow restored from DVC's run-cache in" in shown
    assert "0 of 1 stages ran, 1 restored from DVC's run-cache." in shown
    assert "is cached - skipping run" not in shown  # DVC's own line is left out
    assert (sleepy / "out.txt").read_text() == "7"
    assert not (sleepy / "started").exists()
