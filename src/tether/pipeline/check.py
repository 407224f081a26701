"""``tether check``: is this workspace exactly reproducible from what Git holds?

Four questions, each answered from the bytes rather than from timestamps:

1. Is params.yaml the composition of conf/ plus the recorded overrides?
2. Is every stage up to date with dvc.lock (command, params, deps, outs)?
3. Does every output's content hash to what dvc.lock records?
4. Are the files stages depend on (and conf/, dvc.yaml, dvc.lock) committed?
5. Is the running environment the one the commit's uv.lock pins (``tether.envlock``)?
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from tether import dvcfiles, environment, envlock, numerics
from tether.backends import dvc, hashing
from tether.backends.git import GitRepo
from tether.errors import TetherError
from tether.pipeline import compose as composing
from tether.pipeline import preflight
from tether.pipeline.overrides import OVERRIDES_FILE, load_overrides
from tether.pipeline.retyped import retyped_params


class ProblemKind(StrEnum):
    """Which of check's questions a problem answers no to."""

    PARAMS = "params"  # params.yaml is not the composition
    STALE = "stale"  # a stage is out of date with dvc.lock
    OUTPUT = "output"  # an output does not hash to what dvc.lock records
    DATA = "data"  # data added with `dvc add` differs from its .dvc file
    CACHE = "cache"  # a DVC cache object's bytes do not hash to its name
    UNCOMMITTED = "uncommitted"  # a file the pipeline needs is not committed
    DELETED = "deleted"  # a committed file the pipeline needs is gone from the work tree
    CONFIG = "config"  # conf/ or DVC's config is invalid
    MACHINE = "machine"  # the commit's own inputs rebuilt other bytes on this machine
    ENVIRONMENT = "environment"  # the running environment is not the commit's uv.lock


@dataclass(frozen=True)
class Problem:
    """One reason the workspace is not reproducible, and the command that fixes it."""

    kind: ProblemKind
    subject: str
    message: str
    fix: str


@dataclass
class CheckResult:
    root: str
    commit: str | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def reproducible(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "reproducible": self.reproducible,
            "commit": self.commit,
            "problems": [asdict(p) for p in self.problems],
        }


def _check_params(root: Path) -> list[Problem]:
    settings = dvc.hydra_settings(root)
    if not settings.enabled:
        return []
    try:
        overrides = load_overrides(root)
        expected = composing.compose(root, overrides)
    except TetherError as exc:
        return [
            Problem(
                ProblemKind.CONFIG,
                "conf/",
                exc.message,
                exc.hint or "Fix conf/, then run `tether run`.",
            )
        ]
    params = root / dvc.PARAMS_FILE
    actual = params.read_bytes() if params.exists() else None
    if actual == expected.content:
        return []
    shown = " ".join(overrides) if overrides else "no overrides"
    if actual is None:
        message = "params.yaml is missing"
    else:
        message = f"params.yaml is not the composition of conf/ with {shown}"
    return [Problem(ProblemKind.PARAMS, dvc.PARAMS_FILE, message, "tether run")]


def _describe(reason: Any) -> str:
    if isinstance(reason, str):
        return reason
    parts = []
    for kind, changes in reason.items():
        if isinstance(changes, dict):
            items: list[str] = []
            for path, status in changes.items():
                if isinstance(status, dict):
                    items.extend(f"{path}:{key} {state}" for key, state in status.items())
                else:
                    items.append(f"{path} {status}")
            parts.append(f"{kind}: {', '.join(items)}")
        else:
            parts.append(f"{kind}: {changes}")
    return "; ".join(parts)


def _check_stages(root: Path, project: dvcfiles.Project) -> tuple[list[Problem], list[str]]:
    """Staleness per DVC plus our own hashing of every recorded dep and out.

    Returns the problems and the paths that must be committed (for the git check):
    see ``dvc.versioned_paths``. Outputs kept in Git (``cache: false``) are among
    them: a commit's metrics must not disagree with its own dvc.lock.
    """
    problems: list[Problem] = []
    with dvc.open_repo(root) as repo:
        stale = dvc.stage_status(repo)
        ignored = dvc.ignore_checker(repo)
        cached = {o.md5: o.path for o in dvc.tracked_outputs(repo) if o.cached and o.md5}
        git_paths: set[str] = {dvc.PIPELINE_FILE, dvc.LOCK_FILE}
        for path in dvc.versioned_paths(repo):
            absolute = Path(path).resolve()
            if absolute.is_relative_to(root.resolve()):
                git_paths.add(absolute.relative_to(root.resolve()).as_posix())

    problems.extend(_stale_problems(stale))
    stale_stages = {name.split(":")[-1] for name in stale}

    cache = dvc.cache_dir(root)
    corrupt = dvc.corrupted_in_cache(cache, cached)
    problems.extend(_corrupt_problem(root, cache, bad) for bad in corrupt)
    bad_oids = {bad.oid for bad in corrupt}
    locked = [s for s in project.stages if s.locked]
    for entry in sorted(locked, key=lambda s: s.name):
        stage = entry.name.split(":")[-1]
        # Outputs are always hashed, so a changed file is named even when DVC already
        # calls its stage stale; deps of a stale stage are covered by DVC's reason.
        roles = ("outs",) if stage in stale_stages else ("deps", "outs")
        for role in roles:
            for item in entry.outs if role == "outs" else entry.deps:
                found = _hash_problem(root, cache, stage, role, item, ignored, bad_oids)
                if found is not None:
                    problems.append(found)
    return problems, sorted(git_paths)


def _stale_problems(stale: dict[str, list[Any]]) -> list[Problem]:
    """A problem per stage (or ``.dvc`` file) DVC calls out of date, with its reasons."""
    problems = []
    for name, reasons in sorted(stale.items()):
        if name.endswith(".dvc"):
            # Data tracked with `dvc add`: the .dvc file and the data disagree.
            problems.append(_data_problem(name, reasons))
            continue
        stage = name.split(":")[-1]
        problems.append(
            Problem(
                ProblemKind.STALE,
                stage,
                f"stage {stage!r} is out of date with dvc.lock: "
                + "; ".join(_describe(r) for r in reasons),
                "tether run",
            )
        )
    return problems


def _hash_problem(
    root: Path,
    cache: Path,
    stage: str,
    role: str,
    item: Any,
    ignored: Any,
    bad_oids: set[str],
) -> Problem | None:
    """The problem with one recorded dep or out (``role``) of ``stage`` whose bytes,
    hashed now, differ from dvc.lock (or are gone); None when they match."""
    recorded = item.md5
    if not recorded:
        return None
    actual = hashing.output_md5(root / item.path, ignored, item.legacy)
    if actual == recorded:
        return None
    what = "is missing" if actual is None else "differs from its hash in dvc.lock"
    fix = (
        "tether run"
        if role == "deps"
        else _restore(cache, item.path, recorded, actual, recorded in bad_oids)
    )
    return Problem(
        ProblemKind.OUTPUT if role == "outs" else ProblemKind.STALE,
        item.path,
        f"{role[:-1]} {item.path} of stage {stage!r} {what}"
        + (f" (recorded {recorded}, found {actual})" if actual else ""),
        fix,
    )


def _data_problem(name: str, reasons: list[Any]) -> Problem:
    """A ``.dvc`` file whose data differs: re-add changed data, pull missing data."""
    changed = {
        path: state
        for reason in reasons
        if isinstance(reason, dict)
        for path, state in (reason.get("changed outs") or {}).items()
    }
    modified = sorted(p for p, state in changed.items() if state == "modified")
    if modified:
        fix = f"dvc add {' '.join(modified)} (to record the new data), then commit {name}"
    else:
        fix = f"dvc pull {name} (or `dvc checkout {name}` if the cache has it)"
    described = "; ".join(_describe(r) for r in reasons)
    return Problem(
        ProblemKind.DATA, name, f"data tracked by {name} does not match it: {described}", fix
    )


def _restore(
    cache: Path, path: str, md5: str, found: str | None = None, corrupt: bool = False
) -> str:
    """How to bring back an output: from the local cache when it is there (and sound),
    else from the DVC remote, else by running the pipeline.

    ``--relink``: a file rewritten in place with its old size and mtime looks
    unchanged to DVC's state database, and a plain ``dvc checkout`` would keep it;
    ``--force``: the changed bytes are what is to be replaced.
    """
    cached = dvc.cached_file(cache, md5)
    if cached is not None and cached.exists() and not corrupt:
        return f"dvc checkout {path}" if found is None else f"dvc checkout --relink --force {path}"
    return f"dvc pull {path} (or `tether run` to rebuild it)"


def _corrupt_problem(root: Path, cache: Path, bad: dvc.CorruptObject) -> Problem:
    """A cache object whose bytes changed: never to be used or pushed. Moved aside,
    it is written again from the workspace (when that is right) or downloaded."""
    where = Path(bad.location)
    shown = where.relative_to(root).as_posix() if where.is_relative_to(root) else str(where)
    aside = f"mv -f {shown} {shown}.corrupt"
    return Problem(
        ProblemKind.CACHE,
        bad.owner,
        f"the DVC cache object {shown} of {bad.owner} is corrupted: its bytes hash to "
        f"{bad.actual}, not {bad.oid.removesuffix('.dir')}; it must not be used or pushed",
        f"{aside} && dvc commit -f (rewrites it from the workspace if that matches dvc.lock; "
        "otherwise `dvc pull` after moving it aside)",
    )


def _check_uncommitted(root: Path, git: GitRepo, git_paths: list[str]) -> list[Problem]:
    settings = dvc.hydra_settings(root)
    paths = set(git_paths) | {dvc.PARAMS_FILE, OVERRIDES_FILE.as_posix()}
    if settings.enabled and settings.config_dir is not None:
        paths.add(settings.config_dir.relative_to(root.resolve()).as_posix())
    changed = git.changed_paths(sorted(paths))
    problems = []
    for status, path in changed:
        if "D" in status:
            # Committed, then deleted here: `git add` would commit the deletion.
            staged = status[0] == "D"
            problems.append(
                Problem(
                    ProblemKind.DELETED,
                    path,
                    f"{path} is deleted from the work tree"
                    + (" (and the deletion is staged)" if staged else "")
                    + "; the commit still has it",
                    f"git restore --source=HEAD --staged --worktree -- {path}",
                )
            )
            continue
        if status == "??":
            state = "untracked"
        elif status[0] == "A":
            state = "added but not committed"
        else:
            state = "changed since the last commit"
        problems.append(
            Problem(
                ProblemKind.UNCOMMITTED,
                path,
                f"{path} is {state}",
                f"git add {path} && git commit",
            )
        )
    return problems


def check(root: Path) -> CheckResult:
    """Answer whether the workspace at ``root`` reproduces exactly from Git."""
    # Files DVC cannot read are refused first (exit 2), with their fix: DVC would
    # only say "dvc status failed".
    preflight.require_params(root, preflight.read_project(root))
    with GitRepo(root) as git:
        return _check(git, root)


def _check_param_types(root: Path, project: dvcfiles.Project) -> list[Problem]:
    """Params that DVC calls unchanged although their type changed (see
    ``tether.pipeline.retyped``), while the stage's outputs were built with the
    recorded value: rebuilding from the commit would give other bytes."""
    return [
        Problem(
            ProblemKind.STALE,
            found.stage_name,
            f"{found.file} {found.key} is {found.now!r} ({type(found.now).__name__}) but "
            f"stage {found.stage_name!r} was built with {found.was!r} "
            f"({type(found.was).__name__}): DVC calls them equal and would not run it again",
            "tether run",
        )
        for found in retyped_params(root, project)
    ]


def _check(git: GitRepo, root: Path) -> CheckResult:
    result = CheckResult(root=str(root), commit=git.head())
    if result.commit is None:
        result.problems.append(
            Problem(
                ProblemKind.UNCOMMITTED,
                "HEAD",
                "the repository has no commit yet",
                "git add -A && git commit",
            )
        )
    result.problems.extend(_check_params(root))
    project = dvcfiles.read(root)
    stage_problems, git_paths = _check_stages(root, project)
    result.problems.extend(stage_problems)
    result.problems.extend(_check_param_types(root, project))
    uncommitted = _check_uncommitted(root, git, git_paths)
    environment = _environment_differences(root, git, result.commit)
    machine, excused = _machine_problems(root, result.commit, project, environment)
    result.problems.extend(p for p in uncommitted if p.subject not in excused)
    result.problems.extend(machine)
    result.problems.extend(_environment_problems(environment))
    return result


def _environment_differences(
    root: Path, git: GitRepo, commit: str | None
) -> list[envlock.Difference] | None:
    """How the running environment differs from the commit's uv.lock (the work
    tree's before the first commit); None when the project has none."""
    try:
        return envlock.differences(root, commit, git=git)
    except TetherError:
        return None  # an unreadable uv.lock is the user's to fix with `uv lock`


def _environment_problems(found: list[envlock.Difference] | None) -> list[Problem]:
    return [
        Problem(ProblemKind.ENVIRONMENT, diff.subject, f"environment: {diff.message}", diff.fix)
        for diff in found or []
    ]


def _same_inputs(then: dvcfiles.Stage, now: dvcfiles.Stage, rebuilt: dict[str, str]) -> bool:
    """Whether ``now`` ran on what ``then`` recorded: the same command, params and
    deps, a dep that is itself an output ``rebuilt`` with other bytes excepted."""
    if then.cmd != now.cmd or then.locked_params != now.locked_params:
        return False
    before = {d.path: d.md5 for d in then.deps}
    after = {d.path: d.md5 for d in now.deps}
    if before.keys() != after.keys():
        return False
    return all(before[p] == after[p] or rebuilt.get(p) == after[p] for p in before)


def _machine_problems(
    root: Path,
    commit: str | None,
    project: dvcfiles.Project,
    environment: list[envlock.Difference] | None = None,
) -> tuple[list[Problem], set[str]]:
    """Outputs that the commit's own inputs rebuilt with other bytes here.

    Committing them would record this machine's bits as the project's. They are named
    with the layer that can explain them, and dvc.lock (with any rebuilt file kept in
    Git) is not called "not committed": returns the problems and those paths."""
    if commit is None:
        return [], set()
    try:
        committed = dvcfiles.read(root, commit)
    except TetherError:
        return [], set()
    rebuilt: dict[str, str] = {}  # path -> the md5 it has here
    changes: list[tuple[str, str, str, str]] = []
    for now in project.stages:
        then = committed.by_name.get(now.name)
        if not now.locked or then is None or not then.locked:
            continue
        recorded = {o.path: o.md5 for o in then.outs}
        differing = [o for o in now.outs if o.md5 and recorded.get(o.path) not in (None, o.md5)]
        if not differing and {o.path: o.md5 for o in now.outs} == recorded:
            if _same_inputs(then, now, rebuilt):
                continue
            return [], set()
        if not _same_inputs(then, now, rebuilt) or not differing:
            return [], set()  # a real change: dvc.lock is the user's to commit
        for out in differing:
            rebuilt[out.path] = str(out.md5)
            changes.append((now.name, out.path, str(recorded[out.path]), str(out.md5)))
    if not changes:
        return [], set()
    why = _machine_cause(root, environment)
    tracked = sorted(path for _, path, _, _ in changes if (root / path).is_file())
    problems = [
        Problem(
            ProblemKind.MACHINE,
            path,
            f"{path} of stage {stage!r} was rebuilt from the commit's own code, data and "
            f"params, and has other bytes here ({new}; the commit has {old}): {why}",
            "do not commit it: `git checkout -- dvc.lock && dvc checkout --force` puts "
            "back the commit's outputs; `tether verify HEAD` names the layer that differs",
        )
        for stage, path, old, new in changes
    ]
    return problems, {dvc.LOCK_FILE, *tracked}


def _environment_cause(found: list[envlock.Difference] | None) -> str | None:
    """The environment layers that differ from the commit's uv.lock, in words."""
    if not found:
        return None
    layers = list(dict.fromkeys(d.layer for d in found))
    shown = "; ".join(d.message for d in found[:5])
    more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
    return (
        f"this environment's {', '.join(layers)} differ from the commit's uv.lock ({shown}{more})"
    )


def _kernels_here(root: Path, wanted: numerics.Profile) -> str:
    """The BLAS kernels and threads this machine's stages get, as a probe process
    sees them (run only when bits already differ)."""
    blas = environment.stage_kernels(wanted, root)
    named = [
        f"{owner}'s {info.get('library') or 'BLAS'} kernel {info.get('kernel')}, "
        f"{info.get('threads')} thread(s)"
        for owner, info in sorted(blas.items())
    ]
    return "here: " + "; ".join(named) if named else "no BLAS library found here"


def _machine_cause(root: Path, environment: list[envlock.Difference] | None = None) -> str:
    """What on this machine can explain outputs that differ from the commit's: the
    environment the commit's uv.lock pins first, then the numerics."""
    locked = _environment_cause(environment)
    if locked is not None:
        return locked
    try:
        wanted = numerics.of_project(root)
    except TetherError as exc:
        return exc.message
    _, lacks = numerics.usable(wanted)
    if lacks:
        return (
            f"this CPU cannot run the numerics profile {wanted.name} (it lacks "
            f"{', '.join(lacks)}), so the stages ran with its own numerics"
        )
    if not wanted.variables:
        return (
            f"the numerics profile is {wanted.name}: BLAS kernels, threads and SIMD follow "
            f"the CPU ({_kernels_here(root, wanted)}), so bits differ between machines "
            "(choose x86-64-v2 in conf/config.yaml)"
        )
    if environment is not None:
        return (
            f"the numerics are pinned ({wanted.name}) and the environment is the commit's "
            "uv.lock, so a nondeterministic stage or something the lock does not hold differs"
        )
    return (
        f"the numerics are pinned ({wanted.name}), so the packages, Python or a "
        "nondeterministic stage differ"
    )
