"""Fixtures for registry tests: small git repos with registry tags, and a clock."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, init_repo, write_tree


class Clock:
    """Distinct, increasing tag times (one minute apart) through GIT_COMMITTER_DATE,
    so tests never sleep and GTO's one-second ordering has nothing to tie on."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1)

    def env(self) -> dict[str, str]:
        minute = next(self._ticks)
        return {
            **os.environ,
            "GIT_COMMITTER_DATE": f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00 +0000",
        }


@pytest.fixture
def clock() -> Clock:
    return Clock()


def tag_annotated(
    root: Path,
    name: str,
    rev: str = "HEAD",
    message: str | None = None,
    env: dict[str, str] | None = None,
) -> None:
    from tests.helpers import run

    run("git", "tag", "-a", "-m", message or name, name, rev, cwd=root, env=env)


@pytest.fixture
def plain_registry(tmp_path: Path, clock: Clock) -> Path:
    """A git repo (no DVC) with model m released at two commits: v0.1.0 and v0.2.0."""
    root = init_repo(tmp_path / "plain", dvc=False)
    write_tree(root, {"a.txt": "1"})
    commit_all(root, "one")
    tag_annotated(root, "m@v0.1.0", env=clock.env())
    write_tree(root, {"a.txt": "2"})
    commit_all(root, "two")
    tag_annotated(root, "m@v0.2.0", env=clock.env())
    assert git(root, "tag", "-l") == "m@v0.1.0\nm@v0.2.0"
    return root
