"""A tag whose commit is missing from the clone (shallow fetch, gc) is skipped with a
warning naming it; the rest of the registry is read as usual."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git, init_repo, tether
from tests.registry.conftest import Clock, tag_annotated


def test_a_tag_whose_commit_is_missing_is_skipped_with_a_warning(
    tmp_path: Path, clock: Clock
) -> None:
    root = init_repo(tmp_path / "repo", dvc=False)
    lost = git(root, "rev-parse", "HEAD")
    tag_annotated(root, "m@v0.1.0", env=clock.env())
    git(root, "checkout", "-q", "--orphan", "other")
    git(root, "commit", "-q", "--allow-empty", "-m", "other history")
    git(root, "branch", "-q", "-D", "main")
    (root / ".git/objects" / lost[:2] / lost[2:]).unlink()  # what a gc leaves
    tag_annotated(root, "m@v0.2.0", env=clock.env())

    shown = tether(root, "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert '"version": "v0.2.0"' in shown.stdout
    assert (
        "warning: skipped tag(s) whose commit is missing from this clone: m@v0.1.0; "
        "fetch it (`git fetch --tags`" in shown.stderr
    )
    log = tether(root, "log")
    assert log.returncode == 0, log.stderr
    assert "v0.2.0" in log.stdout and "v0.1.0" not in log.stdout
    assert "m@v0.1.0" in log.stderr
