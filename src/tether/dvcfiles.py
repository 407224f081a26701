"""The one reader of DVC's project files: dvc.yaml and dvc.lock, at any revision.

Every domain asks here what a pipeline declares (stages, ``wdir``, outputs, metrics,
params, artifacts) and what dvc.lock recorded (each output's md5, the params a stage
ran with); nothing else in tether parses these files.

Files are parsed by ``tether.yaml12.load_yaml`` (YAML 1.2 as DVC's ruamel reads
it, with caps on size and alias expansion). A revision is read from git objects,
nothing checked out; ``read`` takes a git revision (a commit, branch or tag), never a
registry reference: resolving those is ``tether.revisions``' job, above this module.

Paths in the dataclasses below are repo-relative POSIX paths, ``wdir`` and the
folder of a dvc.yaml already applied.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tether.backends.git import GitRepo
from tether.errors import InvalidYaml, UsageError
from tether.yaml12 import load_yaml

PIPELINE_FILE = "dvc.yaml"
LOCK_FILE = "dvc.lock"
PARAMS_FILE = "params.yaml"

# --- what dvc.yaml and dvc.lock hold -----------------------------------------------


@dataclass(frozen=True)
class Output:
    """One dependency or output of a stage."""

    path: str  # repo-relative, POSIX
    md5: str | None = None  # as locked; ``<md5>.dir`` for a directory
    size: int | None = None
    is_dir: bool = False
    legacy: bool = False  # DVC 2.x entry (md5 without ``hash: md5``): old cache layout
    cache: bool = True
    metric: bool = False


@dataclass(frozen=True)
class Stage:
    """One pipeline stage, as dvc.yaml declares it and dvc.lock recorded it."""

    name: str  # DVC's addressing: ``train``, or ``sub/dvc.yaml:train``
    wdir: str  # repo-relative
    cmd: str | list[str] | None
    deps: list[Output] = field(default_factory=list)
    outs: list[Output] = field(default_factory=list)
    # params file (repo-relative) -> declared keys; [] means the whole file
    params: dict[str, list[str]] = field(default_factory=dict)
    # params file (repo-relative) -> {key: value} recorded in dvc.lock
    locked_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    locked: bool = False  # dvc.lock has an entry for this stage


@dataclass(frozen=True)
class Artifact:
    """An entry of dvc.yaml's ``artifacts:`` (``dir:name`` when declared in
    ``dir/dvc.yaml``)."""

    name: str
    path: str  # as written in dvc.yaml, relative to that file's folder
    type: str | None = None
    desc: str | None = None


@dataclass(frozen=True)
class LockedStage:
    """One entry of a dvc.lock, paths still relative to the stage's ``wdir``."""

    cmd: str | list[str] | None
    deps: list[Output]
    outs: list[Output]
    params: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Pipeline:
    """What one dvc.yaml declares (paths repo-relative)."""

    path: str
    stages: dict[str, Stage]  # by the name written in the file
    metrics: list[str]  # top-level ``metrics:`` entries
    params: list[str]  # top-level ``params:`` files
    artifacts: dict[str, Artifact]
    # stages using foreach/matrix, which tether does not expand: name -> the
    # sections (``metrics``, ``params``, ``outs``...) their body declares
    templated: dict[str, list[str]]

    @property
    def uses_templates(self) -> bool:
        """Whether DVC must expand something here (foreach/matrix, or a ``${...}``
        in a declared path) before every file it declares is known."""
        paths = [*self.metrics, *self.params]
        for stage in self.stages.values():
            paths += [o.path for o in (*stage.deps, *stage.outs)] + list(stage.params)
        return bool(self.templated) or any("${" in path for path in paths)


@dataclass
class Project:
    """Everything DVC declares and locked at one revision."""

    pipelines: list[Pipeline] = field(default_factory=list)
    by_name: dict[str, Stage] = field(default_factory=dict)

    @property
    def stages(self) -> list[Stage]:
        return list(self.by_name.values())

    @property
    def uses_templates(self) -> bool:
        """Whether any dvc.yaml needs DVC's templating expanded (see Pipeline)."""
        return any(p.uses_templates for p in self.pipelines)

    def stage(self, name: str) -> Stage:
        found = self.by_name.get(name)
        if found is None:
            known = ", ".join(self.by_name) or "none"
            raise UsageError(
                f"no stage {name!r} in the pipeline",
                f"Name one of the stages dvc.yaml declares: {known}.",
            )
        return found

    def output(self, path: str) -> Output | None:
        """The output at ``path`` (repo-relative), with its md5 as locked."""
        wanted = posixpath.normpath(path)
        for stage in self.by_name.values():
            for out in stage.outs:
                if out.path == wanted:
                    return out
        return None

    @property
    def artifacts(self) -> dict[str, Artifact]:
        return {name: a for p in self.pipelines for name, a in p.artifacts.items()}

    @property
    def metrics_files(self) -> list[str]:
        """Every metrics file: top-level ``metrics:`` and stage metric outputs."""
        found: list[str] = []
        for pipeline in self.pipelines:
            found.extend(pipeline.metrics)
            for stage in pipeline.stages.values():
                found.extend(out.path for out in stage.outs if out.metric)
        return list(dict.fromkeys(found))

    @property
    def params_files(self) -> list[str]:
        """Every params file dvc.yaml names (top-level and in stages)."""
        found: list[str] = []
        for pipeline in self.pipelines:
            found.extend(pipeline.params)
            for stage in pipeline.stages.values():
                found.extend(stage.params)
        return list(dict.fromkeys(found))


def join(base: str, rel: str) -> str:
    """``rel`` (relative to the repo folder ``base``) as a repo-relative path; paths
    that leave the repository keep their ``..`` or leading ``/``."""
    return posixpath.normpath(posixpath.join(base, rel))


def outside(path: str) -> bool:
    """Whether a repo-relative path leaves the repository."""
    return path.startswith("/") or path == ".." or path.startswith("../")


def entries(value: Any) -> Iterator[tuple[str, Any]]:
    """``(path, options)`` for each item of a dvc.yaml list (``- path`` or
    ``- path: {..}``)."""
    for item in value or []:
        if isinstance(item, str):
            yield item, None
        elif isinstance(item, dict):
            yield from ((str(k), v) for k, v in item.items())


def _lock_entry(item: Any) -> Output | None:
    if not isinstance(item, dict) or "path" not in item:
        return None
    md5 = item.get("md5")
    md5 = str(md5) if md5 else None
    size = item.get("size")
    return Output(
        path=str(item["path"]),
        md5=md5,
        size=size if isinstance(size, int) else None,
        is_dir=bool(md5 and md5.endswith(".dir")),
        legacy=bool(md5) and item.get("hash") != "md5",
    )


def parse_lock(
    data: bytes | str | Any, path: str = LOCK_FILE, wdir: str = ""
) -> dict[str, LockedStage]:
    """The stages a dvc.lock records, ``{name: LockedStage}``.

    ``data`` is the file's bytes or text, or a document already parsed. Reads the
    lock schema 2.0 (DVC 2.x and 3.x: ``hash: md5`` marks a 3.x entry) and the
    unversioned 1.x layout (stages at the top level). ``wdir`` (repo-relative) is
    only used by ``read`` to place paths; here paths stay as written.
    """
    doc = load_yaml(data, path) if isinstance(data, bytes | str) else data
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidYaml(path, "not a mapping of stages")
    stages = doc.get("stages") if "schema" in doc else doc
    found: dict[str, LockedStage] = {}
    for name, entry in (stages or {}).items():
        if not isinstance(entry, dict):
            continue
        params = entry.get("params") or {}
        found[str(name)] = LockedStage(
            cmd=entry.get("cmd"),
            deps=[o for o in map(_lock_entry, entry.get("deps") or []) if o],
            outs=[o for o in map(_lock_entry, entry.get("outs") or []) if o],
            params={str(f): dict(v or {}) for f, v in params.items() if isinstance(v, dict | None)},
        )
    return found


def _declared_outputs(stage: dict[str, Any], wdir: str) -> list[Output]:
    outs = []
    for section in ("outs", "metrics", "plots"):
        for rel, options in entries(stage.get(section)):
            opts = options if isinstance(options, dict) else {}
            outs.append(
                Output(
                    path=join(wdir, rel),
                    cache=opts.get("cache", True) is not False,
                    metric=section == "metrics",
                )
            )
    return outs


def _declared_params(stage: dict[str, Any], wdir: str) -> dict[str, list[str]]:
    """``{file: keys}``; bare keys name ``params.yaml`` in ``wdir``; ``{file: }``
    (no keys) tracks the whole file, shown as ``[]``, and whole wins over keys."""
    params: dict[str, list[str]] = {}
    whole: set[str] = set()
    for item in stage.get("params") or []:
        pairs = [(PARAMS_FILE, [item])] if isinstance(item, str) else []
        if isinstance(item, dict):
            pairs = [(str(f), [str(k) for k in keys or []]) for f, keys in item.items()]
        for file, keys in pairs:
            path = join(wdir, file)
            if not keys:
                whole.add(path)
            known = params.setdefault(path, [])
            known.extend(k for k in keys if k not in known)
    return {path: [] if path in whole else keys for path, keys in params.items()}


def parse_pipeline(data: bytes | str | Any, path: str = PIPELINE_FILE, where: str = "") -> Pipeline:
    """What one dvc.yaml declares; ``path`` is its repo-relative path, ``where``
    what error messages add after it (`` at REV``)."""
    doc = load_yaml(data, path + where) if isinstance(data, bytes | str) else data
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise InvalidYaml(path + where, "not a mapping (a dvc.yaml has `stages:` at its top)")
    base = posixpath.dirname(path)
    prefix = "" if path == PIPELINE_FILE else f"{path}:"
    stages: dict[str, Stage] = {}
    templated: dict[str, list[str]] = {}
    declared = doc.get("stages") or {}
    for name, body in declared.items() if isinstance(declared, dict) else []:
        if not isinstance(body, dict):
            continue
        if "foreach" in body or "matrix" in body:
            inner = body.get("do", body)
            inner = inner if isinstance(inner, dict) else {}
            templated[str(name)] = [key for key, value in inner.items() if value]
            continue
        wdir = join(base, str(body.get("wdir", ".")))
        stages[str(name)] = Stage(
            name=f"{prefix}{name}",
            wdir=wdir,
            cmd=body.get("cmd"),
            deps=[Output(path=join(wdir, str(d))) for d in body.get("deps") or []],
            outs=_declared_outputs(body, wdir),
            params=_declared_params(body, wdir),
        )
    folder = f"{base}:" if base else ""
    artifacts = {}
    for name, spec in (doc.get("artifacts") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        artifacts[f"{folder}{name}"] = Artifact(
            name=f"{folder}{name}",
            path=str(spec.get("path", "")),
            type=spec.get("type"),
            desc=spec.get("desc"),
        )
    return Pipeline(
        path=path,
        stages=stages,
        metrics=[join(base, p) for p, _ in entries(doc.get("metrics"))],
        params=[join(base, p) for p, _ in entries(doc.get("params"))],
        artifacts=artifacts,
        templated=templated,
    )


def _with_lock(declared: Output | None, locked: Output, wdir: str) -> Output:
    return Output(
        path=declared.path if declared else join(wdir, locked.path),
        md5=locked.md5,
        size=locked.size,
        is_dir=locked.is_dir,
        legacy=locked.legacy,
        cache=declared.cache if declared else True,
        metric=declared.metric if declared else False,
    )


def _merge(stage: Stage | None, name: str, locked: LockedStage, base: str) -> Stage:
    """A declared stage with what the lock recorded for it (or a stage known only
    from the lock: a foreach/matrix expansion, or one removed from dvc.yaml)."""
    wdir = stage.wdir if stage else base

    def merged(declared: list[Output], recorded: list[Output]) -> list[Output]:
        by_path = {o.path: o for o in declared}
        done = [_with_lock(by_path.get(join(wdir, r.path)), r, wdir) for r in recorded]
        seen = {o.path for o in done}
        return done + [o for o in declared if o.path not in seen]

    return Stage(
        name=stage.name if stage else name,
        wdir=wdir,
        cmd=stage.cmd if stage else locked.cmd,
        deps=merged(stage.deps if stage else [], locked.deps),
        outs=merged(stage.outs if stage else [], locked.outs),
        params=stage.params if stage else {},
        locked_params={join(wdir, f): v for f, v in locked.params.items()},
        locked=True,
    )


def assemble(files: dict[str, bytes | None], label: str = "") -> Project:
    """A Project from the bytes of every dvc.yaml and dvc.lock (``{repo-relative
    path: bytes or None}``); ``label`` names the revision in error messages."""
    where = f" at {label}" if label else ""
    project = Project()
    for path in sorted(p for p in files if posixpath.basename(p) == PIPELINE_FILE):
        data = files[path]
        if data is None:
            continue
        pipeline = parse_pipeline(data, path, where)
        base = posixpath.dirname(path)
        lock_path = join(base, LOCK_FILE)
        lock_bytes = files.get(lock_path)
        locked = parse_lock(lock_bytes, lock_path + where) if lock_bytes else {}
        prefix = "" if path == PIPELINE_FILE else f"{path}:"
        stages = dict(pipeline.stages)
        for name, entry in locked.items():
            stages[name] = _merge(stages.get(name), f"{prefix}{name}", entry, base)
        project.pipelines.append(replace(pipeline, stages=stages))
        for stage in stages.values():
            project.by_name[stage.name] = stage
    return project


def read(root: Path, rev: str | None = None) -> Project:
    """Everything DVC declares and locked in the repository at ``root``.

    ``rev`` None reads the work tree; a git revision (commit SHA, branch, tag) is
    read from git objects, nothing checked out. Registry references (NAME@vX.Y.Z)
    are resolved by the caller, through ``tether.revisions.resolve``.
    """
    with GitRepo(root) as git:
        if rev is None:
            files: dict[str, bytes | None] = {}
            for pipeline in git.worktree_files_named(PIPELINE_FILE):
                lock = join(posixpath.dirname(pipeline), LOCK_FILE)
                for path in (pipeline, lock):
                    file = root / path
                    files[path] = file.read_bytes() if file.is_file() else None
            return assemble(files)
        commit = git.resolve(rev)
        listing = git.run("ls-tree", "-r", "-z", "--full-tree", commit)
        shas: dict[str, str] = {}
        for record in listing.split("\0"):
            meta, _, path = record.partition("\t")
            if posixpath.basename(path) in (PIPELINE_FILE, LOCK_FILE):
                _, kind, sha = meta.split(" ")
                if kind == "blob":
                    shas[path] = sha
        blobs = git.objects.read_many(shas.values())
        found = {path: blobs[sha][1] if sha in blobs else None for path, sha in shas.items()}
        return assemble(found, rev if rev == commit else f"{rev} ({commit[:8]})")
