"""What DVC counts as metrics and params at one revision, and their values.

The rules are DVC's (``dvc/repo/metrics/show.py``, ``dvc/repo/params/show.py``):

* metrics: every stage's ``metrics:`` outputs and every top-level ``metrics:``
  entry, in every dvc.yaml of the revision; a directory means every file under it;
* params: every stage's ``params:`` (bare keys name ``params.yaml`` in the stage's
  directory, ``{file: [keys]}`` names keys of another file, ``{file: }`` the whole
  file), every top-level ``params:`` file, and the root ``params.yaml`` whenever it
  exists; a file tracked whole anywhere is tracked whole everywhere;
* metric values keep numbers, strings and booleans (nested in mappings); lists and
  nulls are dropped; params keep every value, lists shown as their Python text;
* nested keys are joined with dots.

Files are read from git objects when git has them at that revision, otherwise from
the local DVC cache by the md5 dvc.lock records there. A file that cannot be read is
an error naming the file and the command that fixes it, never a silent gap.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether import dvcfiles
from tether.backends.dvc import cache_dir, cached_file
from tether.backends.git import GitRepo, parse_commit_header, parse_tree
from tether.errors import InvalidYaml, UnknownRevision
from tether.formats import DuplicateKey, FormatError, extract_metrics, flatten, parse, select_keys

WORKSPACE = "workspace"
PIPELINE_FILE = dvcfiles.PIPELINE_FILE
DEFAULT_PARAMS = dvcfiles.PARAMS_FILE


@dataclass(frozen=True)
class ReadError:
    """A metric or params file that could not be read at a revision."""

    path: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "fix": self.fix}


@dataclass
class Snapshot:
    """Metrics and params at one revision: ``{path: {dotted key: value}}``."""

    rev: str
    commit: str | None
    time: int | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[ReadError] = field(default_factory=list)


# -- reading files at a revision ------------------------------------------------


class TreeIndex:
    """Git trees read through the one object stream, each tree parsed once.

    Trees are content-addressed, so across hundreds of revisions only the trees
    that changed are read again; the search for dvc.yaml files is memoised the same way.
    """

    def __init__(self, git: GitRepo) -> None:
        self.git = git
        self._trees: dict[str, dict[str, tuple[bool, str]]] = {}
        self._found: dict[str, list[str]] = {}

    def entries(self, tree: str) -> dict[str, tuple[bool, str]]:
        if tree not in self._trees:
            self._trees[tree] = {
                name: (is_tree, sha) for name, is_tree, sha in self.git.tree_entries(tree)
            }
        return self._trees[tree]

    def load_all(self, roots: list[str]) -> None:
        """Read every tree under ``roots`` level by level, one batch per level."""
        frontier = [t for t in dict.fromkeys(roots) if t not in self._trees]
        while frontier:
            found = self.git.objects.read_many(frontier)
            following: list[str] = []
            for tree in frontier:
                kind, data = found.get(tree, ("missing", b""))
                entries = parse_tree(data) if kind == "tree" else []
                self._trees[tree] = {name: (is_tree, sha) for name, is_tree, sha in entries}
                following.extend(
                    sha
                    for name, is_tree, sha in entries
                    if is_tree and name not in (".git", ".dvc") and sha not in self._trees
                )
            frontier = list(dict.fromkeys(following))

    def lookup(self, tree: str, path: str) -> tuple[bool, str] | None:
        """``(is_tree, sha)`` of ``path`` under ``tree``, None if absent."""
        node: tuple[bool, str] = (True, tree)
        for part in path.split("/"):
            if not node[0]:
                return None
            found = self.entries(node[1]).get(part)
            if found is None:
                return None
            node = found
        return node

    def named(self, tree: str, name: str) -> list[str]:
        """Paths of every file called ``name`` under ``tree`` (not under .git or .dvc)."""
        if tree not in self._found:
            found: list[str] = []
            for entry, (is_tree, sha) in sorted(self.entries(tree).items()):
                if is_tree and entry not in (".git", ".dvc"):
                    found.extend(f"{entry}/{sub}" for sub in self.named(sha, name))
                elif not is_tree and entry == name:
                    found.append(entry)
            self._found[tree] = found
        return self._found[tree]

    def files(self, tree: str, prefix: str) -> Iterator[tuple[str, str]]:
        """``(path, blob sha)`` of every file under ``tree``, paths under ``prefix``."""
        for entry, (is_tree, sha) in sorted(self.entries(tree).items()):
            if is_tree:
                yield from self.files(sha, f"{prefix}/{entry}")
            else:
                yield f"{prefix}/{entry}", sha


class _Source:
    """Files of one revision: a commit's tree, or the work tree."""

    label: str

    def pipeline_files(self) -> list[str]:
        raise NotImplementedError

    def blob(self, path: str) -> tuple[str, bytes] | None:
        """``(cache key, bytes)`` of a file git (or the work tree) has, else None."""
        raise NotImplementedError

    def files_under(self, path: str) -> list[str] | None:
        """Files under directory ``path``, None when ``path`` is not a directory."""
        raise NotImplementedError

    def has_file(self, path: str) -> bool:
        return self.blob(path) is not None


class _CommitSource(_Source):
    def __init__(
        self, trees: TreeIndex, blobs: dict[str, bytes], label: str, tree: str, commit: str
    ) -> None:
        self.trees, self.blobs, self.label, self.tree = trees, blobs, label, tree
        # What `dvc fetch --rev` understands: the revision as typed, unless it is a
        # registry reference like NAME#STAGE, which only tether resolves.
        self.fetch_rev = commit if "#" in label or label.startswith("-") else label

    def pipeline_files(self) -> list[str]:
        return self.trees.named(self.tree, PIPELINE_FILE)

    def blob(self, path: str) -> tuple[str, bytes] | None:
        found = self.trees.lookup(self.tree, path)
        if found is None or found[0]:
            return None
        if found[1] not in self.blobs:
            obj = self.trees.git.read_object(found[1])
            if obj is None:
                return None
            self.blobs[found[1]] = obj[1]
        return found[1], self.blobs[found[1]]

    def has_file(self, path: str) -> bool:
        found = self.trees.lookup(self.tree, path)
        return found is not None and not found[0]

    def prefetch(self, paths: list[str]) -> list[str]:
        """Blob SHAs of those ``paths`` that are files here and not yet read."""
        shas = []
        for path in paths:
            found = self.trees.lookup(self.tree, path)
            if found is not None and not found[0] and found[1] not in self.blobs:
                shas.append(found[1])
        return shas

    def files_under(self, path: str) -> list[str] | None:
        found = self.trees.lookup(self.tree, path)
        if found is None or not found[0]:
            return None
        return [p for p, _ in self.trees.files(found[1], path)]


class _WorkspaceSource(_Source):
    label = WORKSPACE

    def __init__(self, root: Path, git: GitRepo) -> None:
        self.root, self.git = root, git

    def pipeline_files(self) -> list[str]:
        return self.git.worktree_files_named(PIPELINE_FILE)

    def blob(self, path: str) -> tuple[str, bytes] | None:
        full = self.root / path
        if not full.is_file() or not full.resolve().is_relative_to(self.root.resolve()):
            return None  # a symlink out of the repository is not followed
        data = full.read_bytes()
        return f"ws:{path}:{len(data)}:{hash(data)}", data

    def files_under(self, path: str) -> list[str] | None:
        full = self.root / path
        if not full.is_dir():
            return None
        return sorted(p.relative_to(self.root).as_posix() for p in full.rglob("*") if p.is_file())


# -- what dvc.yaml declares ---------------------------------------------------


@dataclass
class _Declared:
    metrics: list[str] = field(default_factory=list)
    uncached: set[str] = field(default_factory=set)
    # params file -> keys; [] means the whole file
    params: list[tuple[str, list[str]]] = field(default_factory=list)
    # lock file -> {stage name: wdir}
    locks: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: list[ReadError] = field(default_factory=list)


def _declare(pipeline: str, doc: Any, declared: _Declared) -> None:
    """Add what one dvc.yaml (already parsed) declares to ``declared``."""
    try:
        found = dvcfiles.parse_pipeline(doc, pipeline)
    except InvalidYaml:
        declared.errors.append(
            ReadError(pipeline, "not a valid dvc.yaml (not a mapping)", f"Fix {pipeline}.")
        )
        return
    lock = dvcfiles.join(posixpath.dirname(pipeline), dvcfiles.LOCK_FILE)
    declared.locks.setdefault(lock, {})
    seen_metrics, seen_params = len(declared.metrics), len(declared.params)
    declared.metrics.extend(found.metrics)
    declared.params.extend((path, []) for path in found.params)
    for name, sections in found.templated.items():
        if "metrics" in sections or "params" in sections:
            declared.errors.append(
                ReadError(
                    pipeline,
                    f"stage {name!r} uses foreach/matrix, which tether does not expand",
                    "Compare this pipeline with `dvc metrics diff` and `dvc params diff`.",
                )
            )
    for name, stage in found.stages.items():
        declared.locks[lock][name] = stage.wdir
        for out in stage.outs:
            if out.metric:
                declared.metrics.append(out.path)
                if not out.cache:
                    declared.uncached.add(out.path)
        declared.params.extend(stage.params.items())
    ours = declared.metrics[seen_metrics:] + [p for p, _ in declared.params[seen_params:]]
    for path in dict.fromkeys(p for p in ours if "${" in p):
        declared.errors.append(
            ReadError(
                path,
                f"{pipeline} names this file with a ${{...}} template, which tether does not expand",
                "Compare this pipeline with `dvc metrics diff` and `dvc params diff`.",
            )
        )


def _merge_params(entries: list[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """DVC's rule: a file tracked whole anywhere is tracked whole; otherwise the
    union of the keys, in order."""
    whole = {path for path, keys in entries if not keys}
    merged: dict[str, list[str]] = {}
    for path, keys in entries:
        if path in whole:
            merged[path] = []
        else:
            merged.setdefault(path, [])
            merged[path].extend(k for k in keys if k not in merged[path])
    return merged


# -- the collector ----------------------------------------------------------------


class Collector:
    """Reads metrics and params at any number of revisions of one repository,
    parsing each distinct file content once."""

    def __init__(self, root: Path, git: GitRepo | None = None, params: bool = True) -> None:
        """``params=False`` skips reading params files (history without param columns)."""
        self.root = root
        self.read_params = params
        self.git = git or GitRepo(root)
        self.trees = TreeIndex(self.git)
        self.cache = cache_dir(root)
        self._parsed: dict[tuple[str, str], Any] = {}
        self._blobs: dict[str, bytes] = {}
        self._declarations: dict[Any, _Declared] = {}

    def at_commit(self, label: str, commit: str) -> Snapshot:
        return self.at_commits([(label, commit)])[0]

    def at_commits(self, revisions: list[tuple[str, str]]) -> list[Snapshot]:
        """Snapshots of many ``(label, commit)`` pairs, reading objects in a few
        batches: the commits, then the trees level by level, then the dvc.yaml
        files, then every file they name."""
        commits = self.git.objects.read_many(sha for _, sha in revisions)
        snaps, sources = [], []
        for label, sha in revisions:
            found = commits.get(sha)
            if found is None or found[0] != "commit":
                raise UnknownRevision(label)
            tree, when = parse_commit_header(found[1])
            snaps.append(Snapshot(rev=label, commit=sha, time=when))
            sources.append(_CommitSource(self.trees, self._blobs, label, tree, sha))
        self.trees.load_all([source.tree for source in sources])
        self._prefetch(source.prefetch(source.pipeline_files()) for source in sources)
        wanted = []
        for source in sources:
            declared = self._declared(source)
            paths = list(declared.locks) + declared.metrics
            if self.read_params:
                paths += [p for p, _ in declared.params]
            wanted.append(source.prefetch(paths))
        self._prefetch(wanted)
        for source, snap in zip(sources, snaps, strict=True):
            self._collect(source, snap)
        return snaps

    def _prefetch(self, groups: Iterator[list[str]] | list[list[str]]) -> None:
        shas = [sha for group in groups for sha in group]
        for sha, (_, data) in self.git.objects.read_many(shas).items():
            self._blobs[sha] = data

    def at_workspace(self) -> Snapshot:
        snap = Snapshot(rev=WORKSPACE, commit=None)
        self._collect(_WorkspaceSource(self.root, self.git), snap)
        return snap

    # internals

    def _parse(self, path: str, blob: tuple[str, bytes]) -> Any:
        key = (blob[0], path.rsplit(".", 1)[-1].lower() if "." in path else "")
        if key not in self._parsed:
            try:
                self._parsed[key] = parse(path, blob[1])
            except FormatError as exc:
                self._parsed[key] = exc
        return self._parsed[key]

    def _declared(self, source: _Source) -> _Declared:
        """What the revision's dvc.yaml files declare; worked out once for each
        distinct set of dvc.yaml contents (most revisions share one)."""
        pipelines = [(path, source.blob(path)) for path in source.pipeline_files()]
        has_params = source.has_file(DEFAULT_PARAMS)
        key = (tuple((path, blob[0] if blob else "") for path, blob in pipelines), has_params)
        if key in self._declarations:
            return self._declarations[key]
        declared = _Declared()
        unparsable = False
        for pipeline, blob in pipelines:
            doc = self._parse(pipeline, blob) if blob else FormatError("unreadable")
            if isinstance(doc, FormatError):
                declared.errors.append(
                    ReadError(pipeline, str(doc), f"Fix {pipeline} at {source.label}.")
                )
                unparsable = True
                continue
            _declare(pipeline, doc, declared)
        if has_params:
            declared.params.append((DEFAULT_PARAMS, []))
        if not unparsable:  # that error names the revision: not shared
            self._declarations[key] = declared
        return declared

    def _lock_outs(self, source: _Source, declared: _Declared) -> dict[str, tuple[str, bool]]:
        """``{output path: (md5, legacy layout)}`` from every dvc.lock of the revision."""
        outs: dict[str, tuple[str, bool]] = {}
        for lock, wdirs in declared.locks.items():
            blob = source.blob(lock)
            doc = self._parse(lock, blob) if blob else None
            if not isinstance(doc, dict):
                continue
            try:
                stages = dvcfiles.parse_lock(doc, lock)
            except InvalidYaml:
                continue
            for name, stage in stages.items():
                wdir = wdirs.get(name, posixpath.dirname(lock))
                for out in stage.outs:
                    if out.md5:
                        outs[dvcfiles.join(wdir, out.path)] = (out.md5, out.legacy)
        return outs

    def _collect(self, source: _Source, snap: Snapshot) -> None:
        declared = self._declared(source)
        snap.errors.extend(declared.errors)
        lock_outs: dict[str, tuple[str, bool]] | None = None

        def outs() -> dict[str, tuple[str, bool]]:
            nonlocal lock_outs
            if lock_outs is None:
                lock_outs = self._lock_outs(source, declared)
            return lock_outs

        # A path still holding ``${...}`` is templated: DVC's to resolve, not read here.
        for path in dict.fromkeys(p for p in declared.metrics if "${" not in p):
            for file, value in self._read(source, path, outs, path in declared.uncached):
                if self._kept(snap, value):
                    self._store(snap.metrics, snap, file, extract_metrics(value) or {})
        wanted = _merge_params(declared.params if self.read_params else [])
        for path, keys in ((p, k) for p, k in wanted.items() if "${" not in p):
            for file, value in self._read(source, path, outs, True, kind="params"):
                if self._kept(snap, value):
                    chosen = select_keys(value, keys) if keys else value
                    self._store(snap.params, snap, file, chosen)

    @staticmethod
    def _kept(snap: Snapshot, value: Any) -> bool:
        """False for a ReadError, which goes into ``snap.errors`` instead."""
        if isinstance(value, ReadError):
            snap.errors.append(value)
            return False
        return True

    def _store(
        self, into: dict[str, dict[str, Any]], snap: Snapshot, path: str, value: Any
    ) -> None:
        try:
            into[path] = flatten(value)
        except DuplicateKey as exc:
            snap.errors.append(
                ReadError(
                    path,
                    f"key {exc.args[0]!r} appears both nested and dotted",
                    f"Rename one of the two {exc.args[0]!r} keys in {path} at {snap.rev}.",
                )
            )

    def _read(
        self, source: _Source, path: str, outs: Any, uncached: bool, kind: str = "metrics"
    ) -> Iterator[tuple[str, Any]]:
        """``(file, parsed value or ReadError)`` for ``path``, or each file under it."""
        rev = source.label
        if dvcfiles.outside(path):
            # dvc.yaml may come from an untrusted branch: never read outside the repo.
            yield (
                path,
                ReadError(
                    path,
                    f"dvc.yaml at {rev} names a file outside the repository; tether does not read it",
                    "Keep metrics and params files inside the repository.",
                ),
            )
            return
        blob = source.blob(path)
        if blob is not None:
            yield path, self._value(source, path, blob)
            return
        listing = source.files_under(path)
        if listing is not None:
            for file in listing:
                found = source.blob(file)
                if found is not None:
                    yield file, self._value(source, file, found)
            return
        recorded = None if kind == "params" else outs().get(path)
        if kind == "params" or recorded is None or uncached:
            yield path, _not_in_git(path, rev, kind, recorded is not None)
            return
        md5, legacy = recorded
        yield from self._read_cached(rev, path, md5, legacy, getattr(source, "fetch_rev", rev))

    def _read_cached(
        self, rev: str, path: str, md5: str, legacy: bool, fetch_rev: str
    ) -> Iterator[tuple[str, Any]]:
        fix = (
            "Run `dvc pull`."
            if rev == WORKSPACE
            else f"Run `dvc fetch --rev {fetch_rev}`, then retry."
        )
        missing = ReadError(
            path, f"stored in the DVC cache (md5 {md5}), which does not have it at {rev}", fix
        )
        location = cached_file(self.cache, md5, legacy)
        if location is None or not location.is_file():
            yield path, missing
            return
        data = location.read_bytes()
        if not md5.endswith(".dir"):
            yield path, self._value_bytes(path, f"md5:{md5}", data)
            return
        try:
            listing = json.loads(data)
        except ValueError:
            yield path, ReadError(path, f"the DVC cache entry {md5} is corrupt", fix)
            return
        for item in sorted(listing, key=lambda i: str(i.get("relpath", ""))):
            file = dvcfiles.join(path, str(item.get("relpath", "")))
            yield from self._read_cached(rev, file, str(item.get("md5", "")), legacy, fetch_rev)

    def _value(self, source: _Source, path: str, blob: tuple[str, bytes]) -> Any:
        return self._value_bytes(path, blob[0], blob[1], source.label)

    def _value_bytes(self, path: str, key: str, data: bytes, rev: str = "") -> Any:
        parsed = self._parse(path, (key, data))
        if isinstance(parsed, FormatError):
            return ReadError(path, str(parsed), f"Fix {path}{f' at {rev}' if rev else ''}.")
        return parsed


def _not_in_git(path: str, rev: str, kind: str, locked: bool) -> ReadError:
    """Why ``path`` could not be read at ``rev``: a params file that is not there,
    a metrics file no dvc.lock records (``locked`` False), or a ``cache: false``
    one that was never committed."""
    where = "in the work tree" if rev == WORKSPACE else f"in git at {rev}"
    if kind == "params":
        return ReadError(
            path,
            f"params file named in dvc.yaml, not found {where}",
            "Create the file, or remove it from the stage's `params:` in dvc.yaml.",
        )
    if not locked:
        return ReadError(
            path,
            f"not found {where}, and no dvc.lock there records it",
            "Reproduce the pipeline (`tether run` or `dvc repro`) and commit dvc.lock, "
            "or commit the file with git.",
        )
    return ReadError(
        path,
        f"declared `cache: false` but not committed to git at {rev}",
        "Commit the file with git.",
    )
