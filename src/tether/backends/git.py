"""The one door to git. GitPython is imported here and nowhere else.

Every call passes arguments as a list (never a shell string), and every
user-supplied revision goes through ``resolve`` first, which refuses anything
that git could read as an option.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from tether.errors import ExternalError, NotATetherRepo, UnknownRevision

__all__ = ["GitCommandError", "GitRepo", "TagRef", "find_root"]


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

    # model registry (tether.registry) ------------------------------------
    # The registry lives in tags. Reading it is one `git for-each-ref` pass that
    # returns every field the registry needs; looking tags up one by one costs a
    # few milliseconds each, which is what makes GTO slow on large registries.

    _TAG_FIELDS = (
        "%(refname:strip=2)",
        "%(objecttype)",
        "%(*objectname)",
        "%(objectname)",
        "%(taggername)",
        "%(taggeremail)",
        "%(taggerdate:raw)",
        "%(contents)",
    )

    def tag_refs(self) -> list[TagRef]:
        """Every tag, annotated or lightweight, read in one pass."""
        fmt = "%00".join(self._TAG_FIELDS) + "%00"
        out = self.run("for-each-ref", f"--format={fmt}", "refs/tags")
        fields = out.split("\0")
        width = len(self._TAG_FIELDS)
        refs = []
        for i in range(0, len(fields) - width + 1, width):
            name, kind, peeled, obj, tagger, email, date, message = fields[i : i + width]
            # Each record after the first starts with the newline that ends the last.
            name = name.lstrip("\n")
            if kind != "tag":
                refs.append(TagRef(name=name, annotated=False, target=obj))
                continue
            seconds, _, offset = date.partition(" ")
            refs.append(
                TagRef(
                    name=name,
                    annotated=True,
                    target=peeled,
                    tagger_name=tagger,
                    tagger_email=email.strip("<>"),
                    time=int(seconds or 0),
                    offset_minutes=_offset_minutes(offset),
                    message=message,
                )
            )
        return refs

    def create_tag(self, name: str, commit: str, message: str) -> None:
        """Create annotated tag ``name`` at ``commit``; never overwrites one.

        ``name`` must already be validated by the caller (tether.registry.tags).
        """
        self.run(
            "tag", "--annotate", "--cleanup=whitespace", "--message", message,
            "--end-of-options", name, commit,
        )  # fmt: skip

    def delete_tag(self, name: str) -> None:
        self.run("tag", "--delete", "--end-of-options", name)

    def remotes(self) -> list[str]:
        return [line for line in self.run("remote").splitlines() if line]

    def push_tag(self, remote: str, name: str) -> None:
        """Push one tag; refuses to replace a tag of that name on the remote."""
        self.run("push", "--quiet", "--end-of-options", remote, f"refs/tags/{name}:refs/tags/{name}")

    def tracked_changes(self) -> list[tuple[str, str]]:
        """Tracked files that differ from HEAD, staged or not (untracked ignored)."""
        return self.changed_paths(untracked=False)


@dataclass(frozen=True)
class TagRef:
    """One tag as ``git for-each-ref`` reports it. Lightweight tags carry only a name
    and a target; ``target`` is the commit an annotated tag points at."""

    name: str
    annotated: bool
    target: str
    tagger_name: str = ""
    tagger_email: str = ""
    time: int = 0
    offset_minutes: int = 0
    message: str = ""


def _offset_minutes(offset: str) -> int:
    """``+0130`` -> 90, as git writes a tagger's time zone."""
    if len(offset) != 5 or offset[0] not in "+-" or not offset[1:].isdigit():
        return 0
    minutes = int(offset[1:3]) * 60 + int(offset[3:])
    return -minutes if offset[0] == "-" else minutes
