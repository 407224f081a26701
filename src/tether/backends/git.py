"""The one door to git. GitPython is imported here and nowhere else.

Every call passes arguments as a list (never a shell string), and every
user-supplied revision goes through ``resolve`` first, which refuses anything
that git could read as an option.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from tether.errors import ExternalError, NotATetherRepo, UnknownRevision

__all__ = ["GitCommandError", "GitRepo", "find_root"]


def find_root(start: str | os.PathLike[str] = ".") -> Path:
    """The top of the git work tree that contains ``start``."""
    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise NotATetherRepo(
            f"{Path(start).resolve()} is not inside a git repository",
            "Run tether from your project, or create one with `git init && dvc init`.",
        ) from None
    if repo.working_tree_dir is None:
        raise NotATetherRepo(f"{start} is a bare git repository; tether needs a work tree")
    return Path(repo.working_tree_dir)


class GitRepo:
    """A git work tree, asked through GitPython's command wrapper."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @cached_property
    def repo(self) -> git.Repo:
        return git.Repo(self.root)

    def run(self, *args: str) -> str:
        """Run ``git ARGS`` in the work tree; a failure becomes an ExternalError."""
        try:
            return self.repo.git.execute(["git", *args], strip_newline_in_stdout=False)
        except GitCommandError as exc:
            detail = (exc.stderr or "").strip().removeprefix("stderr:").strip(" '\n")
            raise ExternalError(f"git {args[0]} failed: {detail or exc}") from None

    # revisions -------------------------------------------------------------

    def resolve(self, rev: str) -> str:
        """The full commit SHA that ``rev`` names; UnknownRevision if none.

        A revision starting with ``-`` is refused before git runs, so user input can
        never be read as an option.
        """
        if not rev or rev.startswith("-") or "\n" in rev or "\0" in rev:
            raise UnknownRevision(rev)
        try:
            out = self.repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
        except GitCommandError:
            raise UnknownRevision(rev) from None
        return out.strip()

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository with no commits."""
        try:
            return self.repo.head.commit.hexsha
        except ValueError:
            return None

    # work tree state -----------------------------------------------------

    def changed_paths(self, paths: Sequence[str] = (), untracked: bool = True) -> list[tuple[str, str]]:
        """``(status, path)`` for each path under ``paths`` that differs from HEAD.

        Status is git's two-letter porcelain code (``" M"``, ``"A "``, ``"??"``...).
        Files ignored by git are not reported.
        """
        args = ["status", "--porcelain=v1", "-z", "--no-renames"]
        args.append("--untracked-files=all" if untracked else "--untracked-files=no")
        args.append("--")
        args.extend(paths or ["."])
        out = self.run(*args)
        entries = []
        for record in out.split("\0"):
            if len(record) > 3:
                entries.append((record[:2], record[3:]))
        return entries

    def is_tracked(self, path: str) -> bool:
        """Whether git tracks the file ``path``."""
        try:
            self.repo.git.ls_files("--error-unmatch", "--", path)
        except GitCommandError:
            return False
        return True

    def tracked(self, paths: Iterable[str]) -> set[str]:
        """Which of ``paths`` (files or folders) git tracks files under."""
        paths = list(paths)
        if not paths:
            return set()
        out = self.run("ls-files", "-z", "--", *paths)
        files = [p for p in out.split("\0") if p]
        found = set()
        for path in paths:
            prefix = path.rstrip("/") + "/"
            if any(f == path or f.startswith(prefix) for f in files):
                found.add(path)
        return found

    def read_blob(self, rev: str, path: str) -> bytes | None:
        """The bytes of ``path`` at commit ``rev`` (already resolved), or None if absent."""
        try:
            blob = self.repo.commit(rev).tree / path
        except KeyError:
            return None
        return blob.data_stream.read()

    # verify: temporary worktrees and tag messages ---------------------------

    def add_worktree(self, path: str | os.PathLike[str], commit: str) -> None:
        """Check out ``commit`` (already resolved) as a detached worktree at ``path``."""
        self.run("worktree", "add", "--detach", "--quiet", "--", str(path), commit)

    def remove_worktree(self, path: str | os.PathLike[str]) -> None:
        """Forget the worktree at ``path`` (its directory may already be gone)."""
        try:
            self.repo.git.worktree("remove", "--force", "--force", "--", str(path))
        except GitCommandError:
            pass
        self.run("worktree", "prune")

    def tag_message(self, name: str) -> str | None:
        """The message of the annotated tag ``name``; None for a lightweight tag or no tag."""
        if not name or name.startswith("-"):
            return None
        try:
            ref = self.repo.tags[name]
        except (IndexError, ValueError):
            return None
        tag = ref.tag
        return None if tag is None else tag.message
