"""tether.backends.git: the cat-file object stream ends with the GitRepo that started it."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import commit_all, git, write_tree
from tether.backends.git import GitRepo, ObjectStream


def test_leaving_a_gitrepo_ends_its_git_processes(tmp_path: Path) -> None:
    root = tmp_path / "r"
    git(tmp_path, "init", "-q", str(root))
    write_tree(root, {"a.txt": "hello\n"})
    head = commit_all(root, "one")
    with GitRepo(root) as repo:
        assert repo.read_object(head)[0] == "commit"  # type: ignore[index]
        assert repo.read_blob(head, "a.txt") == b"hello\n"
        process = repo.objects._proc
        assert process is not None and process.poll() is None
    assert process.poll() == 0  # ended, not left to the interpreter's exit
    assert "objects" not in vars(repo) and "repo" not in vars(repo)


def test_object_stream_is_a_context_manager(tmp_path: Path) -> None:
    root = tmp_path / "r"
    git(tmp_path, "init", "-q", str(root))
    head = commit_all(root, "one")
    with ObjectStream(root) as stream:
        assert stream.read_many([head, "0" * 40, "--help"]).keys() == {head}
        process = stream._proc
    assert process is not None and process.poll() == 0
