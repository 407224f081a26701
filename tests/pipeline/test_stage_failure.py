"""Exit codes of a failed `tether run`: 4 when a stage's own command failed, 3 when
DVC (or git, or a remote) did, so a CI script can tell them apart."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import tether


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
