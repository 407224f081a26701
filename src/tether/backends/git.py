"""The one door to git. GitPython is imported here and nowhere else.

Which access serves what:

* GitPython (``GitRepo.repo``): reading HEAD's commit (``head``) and one file at one
  commit (``read_blob``), where its object model is the simplest correct tool.
* A plain ``git`` process per command (``GitRepo.run``, an argument list, never a
  shell string): everything else a command does once (rev-parse, status, tag,
  worktree, push, for-each-ref). Importing GitPython costs about 50 ms, which
  read-only commands (``tether show``, ``tether diff``) would otherwise pay on every
  call (benchmarks/bench_startup.py, bench_registry.py).
* One ``git cat-file --batch`` process (``ObjectStream``, ``GitRepo.objects``):
  commits, trees and blobs read in batches by SHA, for ``tether diff``/``history``
  over hundreds of revisions and ``tether.dvcfiles.read`` at a revision
  (benchmarks/bench_metrics.py).

``GitRepo`` is a context manager: leaving it ends the cat-file process and
GitPython's persistent readers. Every user-supplied revision goes through
``resolve`` first, which refuses anything git could read as an option.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from tether.errors import ExternalError, NotATetherRepo, UnknownRevision

if TYPE_CHECKING:
    import git

__all__ = ["GitRepo", "TagRef", "find_root"]


def find_root(start: str | os.PathLike[str] = ".") -> Path:
    """The top of the git work tree that contains ``start``."""
    where = Path(start)
    if not where.is_dir():
        raise NotATetherRepo(f"{where} is not a directory")
    proc = subprocess.run(
        ["git", "rev-parse", "--is-bare-repository", "--show-toplevel"],
        cwd=where,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode != 0 and lines[:1] == ["true"]:
        raise NotATetherRepo(
            f"{where.resolve()} is a bare git repository; tether needs a work tree"
        )
    if proc.returncode != 0 or len(lines) < 2:
        raise NotATetherRepo(
            f"{where.resolve()} is not inside a git repository",
            "Run tether from your project, or create one with `git init && dvc init`.",
        )
    return Path(lines[1])


class GitRepo:
    """A git work tree, asked through GitPython's command wrapper."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        # Tags the last ``tag_refs`` left out: their commit is not in this clone.
        self.skipped_tags: list[str] = []

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the git processes this object started: the ``cat-file`` object
        stream and GitPython's own persistent readers, if either ran."""
        stream = self.__dict__.pop("objects", None)
        if stream is not None:
            stream.close()
        repo = self.__dict__.pop("repo", None)
        if repo is not None:
            repo.close()

    @cached_property
    def repo(self) -> git.Repo:
        import git

        return git.Repo(self.root)

    def _call(self, args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        # One git command is a plain process call (argument list, no shell): GitPython
        # adds nothing to it, and importing GitPython costs about 50 ms that read-only
        # commands (`tether show`, `tether diff`) would otherwise pay on every call.
        return subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, stdin=subprocess.DEVNULL
        )

    def _timed_call(
        self, args: Sequence[str], timeout: float
    ) -> subprocess.CompletedProcess[bytes]:
        """``git ARGS`` killed after ``timeout`` seconds, with every process it started
        (a fetch runs a remote helper, ssh, a credential helper): git's own options
        bound a slow transfer, not a server that accepts and never answers."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never wait on a prompt
        child = subprocess.Popen(
            ["git", *args], cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise ExternalError(
                f"git {args[0]} did not finish within {timeout:g} s and was stopped"
            ) from None
        return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)

    def run(self, *args: str, timeout: float | None = None) -> str:
        """Run ``git ARGS`` in the work tree; a failure becomes an ExternalError, and
        so does a call still running after ``timeout`` seconds (then stopped)."""
        proc = self._call(args) if timeout is None else self._timed_call(args, timeout)
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()
            raise ExternalError(f"git {args[0]} failed: {detail or f'exit code {proc.returncode}'}")
        return proc.stdout.decode("utf-8", "surrogateescape")

    # revisions -------------------------------------------------------------

    def resolve(self, rev: str) -> str:
        """The full commit SHA that ``rev`` names; UnknownRevision if none.

        A revision starting with ``-`` is refused before git runs, so user input can
        never be read as an option.
        """
        if not rev or rev.startswith("-") or "\n" in rev or "\0" in rev:
            raise UnknownRevision(rev)
        proc = self._call(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"]
        )
        if proc.returncode != 0:
            raise UnknownRevision(rev)
        return proc.stdout.decode().strip()

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository with no commits."""
        try:
            return self.repo.head.commit.hexsha
        except ValueError:
            return None

    def current_branch(self) -> str | None:
        """The checked-out branch's short name; None on a detached HEAD."""
        proc = self._call(["symbolic-ref", "--quiet", "--short", "HEAD"])
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    # work tree state -----------------------------------------------------

    def changed_paths(
        self, paths: Sequence[str] = (), untracked: bool = True
    ) -> list[tuple[str, str]]:
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

    def paths_between(self, a: str, b: str) -> list[str]:
        """The paths whose contents differ between commits ``a`` and ``b``."""
        out = self.run("diff", "--name-only", "-z", "--no-renames", a, b, "--")
        return [path for path in out.split("\0") if path]

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
        self._call(["worktree", "remove", "--force", "--force", "--", str(path)])
        self.run("worktree", "prune")  # also when `remove` failed: no directory left

    def worktree_paths(self) -> list[Path]:
        """The directories of the linked worktrees git has registered (not the main one)."""
        out = self.run("worktree", "list", "--porcelain", "-z")
        paths = [Path(f[len("worktree ") :]) for f in out.split("\0") if f.startswith("worktree ")]
        return paths[1:]

    # tune: experiments saved as DVC lays them out (refs/exps/...) ------------

    def commit_worktree(self, message: str) -> str:
        """Commit everything in this (detached) work tree that git does not ignore
        on top of HEAD; returns the new commit. HEAD of other worktrees is untouched."""
        self.run("add", "-A")
        self.run("commit", "-q", "--no-verify", "--allow-empty", "-m", message)
        return self.run("rev-parse", "HEAD").strip()

    def reset_worktree(self, commit: str) -> None:
        """Make this (detached) work tree ``commit`` again: tracked files checked out
        by force, untracked files git does not ignore removed. Ignored files stay
        (DVC's outputs, ``.dvc/config.local``)."""
        self.run("checkout", "--force", "--quiet", "--detach", commit)
        self.run("clean", "-d", "--force", "--quiet")

    def ignored_paths(self) -> list[str]:
        """Untracked files git ignores, relative to the work tree (a directory that
        is ignored as a whole is one entry, ending in ``/``)."""
        out = self.run(
            "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"
        )
        return [path for path in out.split("\0") if path]

    def create_ref(self, ref: str, commit: str) -> None:
        """Point the new ref ``ref`` at ``commit``; fails if ``ref`` exists already."""
        self.run("update-ref", "--no-deref", ref, commit, "")

    def delete_ref(self, ref: str) -> None:
        self.run("update-ref", "-d", ref)

    def refs_under(self, prefix: str) -> dict[str, str]:
        """``{ref: commit}`` for every ref under ``prefix`` (``refs/exps/``)."""
        out = self.run("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        refs = {}
        for line in out.splitlines():
            name, _, sha = line.partition(" ")
            refs[name] = sha
        return refs

    def tag_message(self, name: str) -> str | None:
        """The message of the annotated tag ``name``; None for a lightweight tag or no tag."""
        if not name or name.startswith("-") or "\n" in name:
            return None
        ref = f"refs/tags/{name}"
        out = self.run("for-each-ref", "--format=%(refname)%00%(objecttype)%00%(contents)%00", ref)
        fields = out.split("\0")
        for at in range(0, len(fields) - 3, 4):
            refname, kind, message = fields[at].lstrip("\n"), fields[at + 1], fields[at + 2]
            if refname == ref:
                return message if kind == "tag" else None
        return None

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
        """Every tag, annotated or lightweight, read in one pass.

        A tag whose commit is missing from the object store (a shallow fetch, or a
        gc after its branch was deleted) makes ``for-each-ref`` fail for all; then
        the tags are read without it, and it is named in ``skipped_tags`` for the
        caller to warn about.
        """
        fmt = "%00".join(self._TAG_FIELDS) + "%00"
        self.skipped_tags = []
        proc = self._call(["for-each-ref", f"--format={fmt}", "refs/tags"])
        if proc.returncode == 0:
            out = proc.stdout.decode("utf-8", "surrogateescape")
        else:
            readable = self._tags_with_commits()
            if not readable:
                return []
            out = self.run("for-each-ref", f"--format={fmt}", *readable)
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

    def _tags_with_commits(self) -> list[str]:
        """The refs of the tags whose commit is in the object store; the names of the
        others go to ``skipped_tags``."""
        refs = [
            r for r in self.run("for-each-ref", "--format=%(refname)", "refs/tags").split("\n") if r
        ]
        query = "".join(f"{ref}^{{commit}}\n" for ref in refs).encode()
        proc = subprocess.run(
            ["git", "cat-file", "--batch-check"], cwd=self.root, input=query, capture_output=True
        )
        answers = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
        readable = []
        for ref, answer in zip(refs, answers, strict=False):
            if answer.endswith(" missing"):
                self.skipped_tags.append(ref.removeprefix("refs/tags/"))
            else:
                readable.append(ref)
        return readable

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

    def is_shallow(self) -> bool:
        """True in a shallow clone (``git clone --depth``, CI's default checkout):
        tags of commits beyond its depth were not fetched."""
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def remotes_without_tags(self) -> list[str]:
        """Remotes whose fetches leave tags out (``remote.NAME.tagOpt=--no-tags``, as
        ``git clone --no-tags`` sets it)."""
        proc = self._call(["config", "--get-regexp", r"^remote\..*\.tagopt$"])
        found = []  # git config exits 1 when nothing matches
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(" ")
            if value.strip() == "--no-tags":
                found.append(key[len("remote.") : -len(".tagopt")])
        return found

    def push_tag(self, remote: str, name: str) -> None:
        """Push one tag; refuses to replace a tag of that name on the remote."""
        self.run(
            "push", "--quiet", "--end-of-options", remote, f"refs/tags/{name}:refs/tags/{name}"
        )

    def push_tags(self, remote: str, names: Sequence[str]) -> None:
        """Push several tags in one ``git push --atomic``: the remote takes all of
        them or none. Never replaces a tag of the same name on the remote."""
        refs = [f"refs/tags/{name}:refs/tags/{name}" for name in names]
        self.run("push", "--quiet", "--atomic", "--end-of-options", remote, *refs)

    def fetch_tags(
        self, remote: str, names: Sequence[str] | None = None, timeout: float | None = None
    ) -> None:
        """Fetch the tags ``names`` from ``remote``, or all of its tags when None (and
        the commits they name). A local tag is never overwritten or deleted (no
        --force, no pruning). ``timeout``: seconds before the fetch is stopped."""
        if names is None:
            self.run(
                "fetch", "--quiet", "--tags", "--no-recurse-submodules", "--end-of-options",
                remote, timeout=timeout,
            )  # fmt: skip
            return
        refs = [f"refs/tags/{name}:refs/tags/{name}" for name in names]
        self.run(
            "fetch", "--quiet", "--no-tags", "--end-of-options", remote, *refs, timeout=timeout
        )

    def remote_tag_names(self, remote: str) -> list[str]:
        """Names of every tag on the Git remote ``remote``, asked with one
        ``git ls-remote`` (nothing is fetched, the local tags are not touched)."""
        return list(self.remote_tags(remote))

    def remote_tags(self, remote: str) -> dict[str, str]:
        """``{tag name: object id}`` (the tag object of an annotated tag) of every
        tag on the Git remote ``remote``, from one ``git ls-remote``."""
        out = self.run("ls-remote", "--tags", "--refs", "--end-of-options", remote)
        found = {}
        for line in out.splitlines():
            oid, _, ref = line.partition("\t")
            if ref.startswith("refs/tags/"):
                found[ref[len("refs/tags/") :]] = oid
        return found

    def tag_objects(self) -> dict[str, str]:
        """``{tag name: object id}`` of every local tag (the tag object of an
        annotated tag), from one ``git for-each-ref``."""
        out = self.run("for-each-ref", "--format=%(refname:strip=2)%00%(objectname)", "refs/tags")
        found = {}
        for line in out.splitlines():
            name, _, oid = line.partition("\0")
            found[name] = oid
        return found

    def files_at(self, commit: str, paths: Sequence[str]) -> set[str]:
        """Which of ``paths`` git holds a file or folder of at ``commit``."""
        if not paths:
            return set()
        out = self.run("ls-tree", "-r", "--name-only", "-z", commit, "--", *paths)
        files = [p for p in out.split("\0") if p]
        return {
            path
            for path in paths
            if any(f == path or f.startswith(path.rstrip("/") + "/") for f in files)
        }

    def tag_object(self, name: str) -> str | None:
        """The object id ``refs/tags/NAME`` points at (the tag object of an annotated
        tag), None when there is no such tag."""
        proc = self._call(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/tags/{name}"]
        )
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def tracked_changes(self) -> list[tuple[str, str]]:
        """Tracked files that differ from HEAD, staged or not (untracked ignored)."""
        return self.changed_paths(untracked=False)

    # metrics: many revisions through one object stream ----------------------
    #
    # ``tether diff`` and ``tether history`` read dvc.yaml, dvc.lock, params and
    # metric files at many commits. Every object is read by SHA through one
    # ``git cat-file --batch`` process (``ObjectStream`` below), with requests sent
    # in batches, so a history over 500 tags costs one git process, not one per
    # revision or per file.

    @cached_property
    def objects(self) -> ObjectStream:
        return ObjectStream(self.root)

    def read_object(self, sha: str) -> tuple[str, bytes] | None:
        """``(type, bytes)`` of the object ``sha`` (a full hex SHA), None if missing."""
        return self.objects.read_many([sha]).get(sha)

    def tree_entries(self, sha: str) -> list[tuple[str, bool, str]]:
        """``(name, is_tree, sha)`` for each entry of tree ``sha`` (empty if missing)."""
        found = self.read_object(sha)
        if found is None or found[0] != "tree":
            return []
        return parse_tree(found[1])

    def tag_commits(self) -> list[tuple[str, str]]:
        """``(tag name, commit SHA)`` for every tag that points (maybe through an
        annotated tag object) at a commit."""
        out = self.run(
            "for-each-ref",
            "refs/tags",
            "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)%00%(*objecttype)%00%(objecttype)",
        )
        tags = []
        for line in out.splitlines():
            name, obj, peeled, peeled_type, obj_type = line.split("\0")
            if obj_type == "commit":
                tags.append((name, obj))
            elif peeled_type == "commit":
                tags.append((name, peeled))
        return tags

    def first_parent_commits(self, sha: str, count: int) -> list[str]:
        """The last ``count`` commits on the first-parent line ending at ``sha``,
        newest first."""
        out = self.run("rev-list", "--first-parent", f"--max-count={int(count)}", sha, "--")
        return out.split()

    def worktree_files_named(self, name: str) -> list[str]:
        """Paths (tracked or untracked, not ignored) of files called ``name`` in
        the work tree."""
        out = self.run(
            "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", name, f"*/{name}"
        )
        return sorted({p for p in out.split("\0") if p and (p == name or p.endswith("/" + name))})


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


def parse_commit_header(data: bytes) -> tuple[str, int]:
    """``(tree SHA, committer Unix time)`` from the raw bytes of a commit object."""
    tree, when = "", 0
    for line in data.split(b"\n"):
        if not line:
            break  # the message follows the first blank line
        if line.startswith(b"tree "):
            tree = line[5:].decode("ascii")
        elif line.startswith(b"committer "):
            # "committer NAME <EMAIL> 1700000000 +0000"
            when = int(line.rsplit(b" ", 2)[1])
    return tree, when


def parse_tree(data: bytes) -> list[tuple[str, bool, str]]:
    """``(name, is_tree, sha)`` for each entry of a raw tree object; submodule
    entries (commits, whose objects are not here) are left out.

    The format is ``<octal mode> <name>\\0<20-byte sha>`` repeated. Parsed here rather
    than with GitPython's ``tree_entries_from_data``, which validates every path and,
    with its import, costs about 0.15 s over the trees of 500 revisions.
    """
    entries = []
    pos, end = 0, len(data)
    while pos < end:
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = int(data[pos:space], 8)
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        sha = data[nul + 1 : nul + 21].hex()
        pos = nul + 21
        kind = mode >> 12
        if kind == 0o16:  # gitlink (submodule)
            continue
        entries.append((name, kind == 0o04, sha))
    return entries


class ObjectStream:
    """One ``git cat-file --batch`` process serving objects by SHA.

    GitPython's own reader (``Git.get_object_data``) waits for each answer before
    asking the next question: a pipe round trip per object, which dominates reading
    a few small files at hundreds of revisions. Here requests go out in chunks and
    the answers are read back in order. A chunk's requests (41 bytes each) stay far
    below the pipe buffer, so git never blocks on a full stdin while we read.
    """

    CHUNK = 512

    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        return self._proc

    def read_many(self, shas: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        """``{sha: (type, bytes)}`` for the objects that exist; others are left out.
        Anything that is not a full hex SHA is never sent to git."""
        wanted = [
            s
            for s in dict.fromkeys(shas)
            if len(s) == 40 and all(c in "0123456789abcdef" for c in s)
        ]
        found: dict[str, tuple[str, bytes]] = {}
        if not wanted:
            return found
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        for i in range(0, len(wanted), self.CHUNK):
            chunk = wanted[i : i + self.CHUNK]
            proc.stdin.write("".join(f"{sha}\n" for sha in chunk).encode("ascii"))
            proc.stdin.flush()
            for sha in chunk:
                header = proc.stdout.readline().split()
                if len(header) != 3:  # "<sha> missing"
                    continue
                size = int(header[2])
                data = proc.stdout.read(size)
                proc.stdout.read(1)  # the newline after each object
                found[sha] = (header[1].decode("ascii"), data)
        return found

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the ``git cat-file`` process (a later read starts a new one)."""
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            self._proc.wait()
            self._proc = None
