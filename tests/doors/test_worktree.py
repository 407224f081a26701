"""The temporary worktree at its own level: removed however the block ends,
kept with ``keep``, and registrations left by a killed run pruned."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, init_repo, write_tree
from tether.backends.git import GitRepo
from tether.backends.worktree import temporary_worktree


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    root = init_repo(tmp_path / "repo", dvc=False)
    write_tree(root, {"a.txt": "a\n"})
    commit_all(root, "a")
    return root


def registered(root: Path) -> int:
    return git(root, "worktree", "list", "--porcelain").count("worktree ")


def test_removed_after_an_error_and_the_sigterm_handler_restored(
    repo: Path, tmp_path: Path
) -> None:
    g = GitRepo(repo)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RuntimeError), temporary_worktree(g, g.head() or "") as tree:
        assert (tree / "a.txt").read_text() == "a\n"
        assert registered(repo) == 2
        assert signal.getsignal(signal.SIGTERM) is not before
        (tree / "made").write_text("x")
        raise RuntimeError("boom")
    assert list((tmp_path / "tmp").iterdir()) == []
    assert registered(repo) == 1
    assert signal.getsignal(signal.SIGTERM) is before


def test_keep_leaves_both(repo: Path) -> None:
    g = GitRepo(repo)
    with temporary_worktree(g, g.head() or "", keep=True) as tree:
        pass
    assert (tree / "a.txt").exists()
    assert registered(repo) == 2


def test_a_registration_left_by_a_killed_run_is_pruned(repo: Path) -> None:
    g = GitRepo(repo)
    with temporary_worktree(g, g.head() or "", keep=True) as stale:
        pass
    shutil.rmtree(stale.parent)  # what SIGKILL leaves: a registration, no directory
    with temporary_worktree(g, g.head() or ""):
        assert str(stale) not in git(repo, "worktree", "list")
    assert registered(repo) == 1


def test_a_worktree_left_by_a_killed_verify_is_removed_by_the_next(
    repo: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    g = GitRepo(repo)
    # A kept worktree (no owner) and another verify still running stay.
    with temporary_worktree(g, g.head() or "", keep=True) as kept:
        pass
    running = tmp_path / "tmp" / "tether-verify-12345678-running" / "repo"
    running.parent.mkdir()
    (running.parent / "owner.pid").write_text("1\n")
    g.add_worktree(running, g.head() or "")
    # What SIGKILL leaves: the directory and its registration, the owner gone.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / "tmp" / "tether-verify-12345678-killed" / "repo"
    stale.parent.mkdir()
    (stale.parent / "owner.pid").write_text(dead.stdout)
    g.add_worktree(stale, g.head() or "")
    git(repo, "worktree", "prune")
    assert str(stale) in git(repo, "worktree", "list")  # git alone keeps it

    with temporary_worktree(g, g.head() or ""):
        listed = git(repo, "worktree", "list")
        assert str(stale) not in listed
        assert str(kept) in listed and str(running) in listed
    assert not stale.parent.exists()
    assert kept.exists() and running.exists()
