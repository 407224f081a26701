"""``tether verify``: rebuild a commit in a clean worktree and prove it bit-exact.

1. Resolve REF; read what dvc.lock recorded there (and the release manifest).
2. Check REF out as a temporary git worktree with its own empty DVC cache.
3. Bring the objects needed there, hashing every byte: the pipeline's inputs from
   the local cache, or, with ``from_remote``, inputs and recorded outputs from
   the DVC remote only, as a teammate on a new machine would.
4. Run every stage for real (forced: no up-to-date check, no run-cache).
5. Hash every output from its bytes and compare: dvc.lock, manifest, metrics,
   environment. The worktree is removed whatever happens (unless ``keep``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from tether import dvcfiles, environment, envlock, numerics, objects
from tether.backends import dvc, emulator, hashing
from tether.backends.git import GitRepo
from tether.backends.worktree import temporary_worktree
from tether.environment import NumericsRecord
from tether.errors import CheckFailed, ExternalError, TetherError, UsageError
from tether.formats import flatten, json_safe
from tether.metrics.collect import Collector
from tether.registry.manifest import Manifest
from tether.revisions import Target, target
from tether.verify import explain
from tether.verify.compare import (
    DIFFERS,
    EXACT,
    WITHIN_TOLERANCE,
    MetricComparison,
    Status,
    Tolerance,
    check_tolerances,
    compare_metrics,
    output_status,
    parse_metrics,
    unmatched,
)
from tether.verify.manifest import Expected, from_manifest


class EventKind(StrEnum):
    STEP = "step"  # worktree, fetch, hash
    STAGE = "stage"


class EventState(StrEnum):
    START = "start"
    DONE = "done"


@dataclass(frozen=True)
class Event:
    """Progress: a step (worktree, fetch, hash) or a stage starts, then is done."""

    kind: EventKind
    name: str
    state: EventState
    index: int = 0
    total: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class OutputComparison:
    path: str
    stage: str
    recorded: str | None  # dvc.lock at REF
    reproduced: str | None  # hashed from the bytes just written
    status: Status
    manifest: str | None = None  # the release manifest's hash, when there is one


@dataclass
class VerifyResult:
    rev: str
    commit: str
    source: str  # where inputs came from: "local cache" or "remote NAME (URL)"
    outputs: list[OutputComparison] = field(default_factory=list)
    metrics: list[MetricComparison] = field(default_factory=list)
    environment: list[environment.EnvironmentDifference] = field(default_factory=list)
    environment_now: dict[str, Any] = field(default_factory=dict)
    # How the stages' environment differs from the commit's uv.lock (None: no uv.lock).
    lock_differences: list[envlock.Difference] | None = None
    has_manifest: bool = False
    stages_run: list[str] = field(default_factory=list)
    objects_fetched: int = 0
    kept_worktree: str | None = None
    stage_log: str | None = None  # with --keep: what the stage commands printed
    seconds: float = 0.0
    # Numerics: what the release recorded, and what this rebuild ran with.
    numerics_recorded: NumericsRecord | None = None
    numerics_now: NumericsRecord | None = None
    emulated_cpu: str | None = None  # the CPU model the stages ran on under qemu
    # Why outputs differ, layer by layer (tether.verify.explain), and the second tier:
    # whether a rebuild that cannot be bit-exact is equivalent.
    causes: list[Any] = field(default_factory=list)
    equivalence: Any = None

    @property
    def ok(self) -> bool:
        """Every output bit-exact, or a metrics file within the given tolerances."""
        return bool(self.outputs) and all(
            o.status in (EXACT, WITHIN_TOLERANCE) for o in self.outputs
        )

    @property
    def equivalent(self) -> bool:
        """Not bit-exact, where bits could not match, and proved equivalent."""
        return not self.ok and self.equivalence is not None and self.equivalence.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rev": self.rev,
            "commit": self.commit,
            "source": self.source,
            "outputs": [asdict(o) for o in self.outputs],
            # NaN and Inf are values, written as `tether diff --json` writes them.
            "metrics": [json_safe(asdict(m)) for m in self.metrics],
            "environment": {
                "recorded": self.has_manifest,
                "differences": [asdict(d) for d in self.environment],
                "current": self.environment_now,
                "uv_lock": None
                if self.lock_differences is None
                else [asdict(d) for d in self.lock_differences],
            },
            "numerics": {
                "recorded": self.numerics_recorded.to_dict() if self.numerics_recorded else None,
                "now": self.numerics_now.to_dict() if self.numerics_now else None,
                "emulated_cpu": self.emulated_cpu,
            },
            "causes": [asdict(c) for c in self.causes],
            "equivalent": self.equivalent,
            "equivalence": self.equivalence.to_dict() if self.equivalence else None,
            "stages_run": self.stages_run,
            "objects_fetched": self.objects_fetched,
            "kept_worktree": self.kept_worktree,
            "stage_log": self.stage_log,
            "seconds": round(self.seconds, 3),
        }


Notify = Callable[[Event], None]

# What the stage commands print, beside the worktree (removed with it; kept by --keep).
STAGE_LOG = "stages.log"


def _describe_missing(
    oids: Sequence[str], owners: dict[str, str], parents: dict[str, str]
) -> list[str]:
    names = []
    for oid in oids:
        if oid in owners:
            names.append(owners[oid])
        elif parents.get(oid) in owners:
            names.append(f"{owners[parents[oid]]} (a file inside)")
        else:
            names.append(oid)
    return sorted(dict.fromkeys(names))


def _local_remote_note(root: Path, remote: tuple[str, dict[str, Any]]) -> str:
    """For a DVC remote that is a folder inside this clone, what that means (see
    ``objects.in_clone_note``). Raises ExternalError when a local remote's folder
    does not exist: that remote is unreachable, which is not the same as lacking data."""
    name, settings = remote
    folder = objects.local_folder(settings)
    if folder is None:
        return ""
    note = objects.in_clone_note(root, name, settings)
    if not folder.is_dir():
        raise ExternalError(
            f"DVC remote {name!r} cannot be reached: its folder {folder} does not exist",
            f"Point it at the folder that holds the data (`dvc remote modify --local {name} "
            "url PATH`)." + note,
        )
    return note


def _bring_objects(
    source: Any,
    dest: Any,
    wanted: list[dvc.TrackedOutput],
    commit: str,
    where: str,
    remote_name: str | None,
    note: str = "",
) -> int:
    """Copy the objects of ``wanted`` from ``source``; raise naming what failed."""
    owners = {o.md5: o.path for o in wanted if o.md5}
    report = dvc.copy_verified(source, dest, list(owners))
    short = commit[:8]
    if report.corrupted:
        lines = [
            f"{location} (for {_describe_missing([oid], owners, report.parents)[0]}) "
            f"hashes to {actual}, not {oid.removesuffix('.dir')}"
            for oid, (location, actual) in sorted(report.corrupted.items())
        ]
        raise CheckFailed(
            f"corrupted object(s) in the {where}; nothing was deleted:\n  " + "\n  ".join(lines),
            f"Replace each object with a good copy (for example `dvc push` at commit {short} "
            "from a machine whose cache holds the right bytes, after moving the bad object aside).",
        )
    if report.missing:
        paths = _describe_missing(report.missing, owners, report.parents)
        push = f"dvc push -r {remote_name}" if remote_name else "dvc push"
        if remote_name is None:
            raise ExternalError(
                f"the local DVC cache lacks data of commit {short}: {', '.join(paths)}",
                f"Fetch it with `dvc fetch` at commit {short}, or verify with --from-remote.",
            )
        upload = f"`git checkout {short} && {push}`"
        if report.unreachable:
            raise ExternalError(
                f"the {where} cannot be reached ({report.unreachable}); "
                f"not fetched for commit {short}: {', '.join(paths)}",
                "Check the remote's URL, endpoint and credentials (`dvc remote list`); "
                f"if the data was never uploaded, upload it with {upload}.",
            )
        raise ExternalError(
            f"the {where} lacks data; missing for commit {short}: {', '.join(paths)}",
            f"Upload it from a checkout of that commit: {upload}, or every release's data "
            f"at once with `tether push`.{note}",
        )
    return len(report.copied)


def _in_git_or_manifest(
    git: GitRepo, commit: str, path: str, expected: Expected
) -> dict[str, Any] | None:
    recorded = parse_metrics(path, git.read_blob(commit, path))
    if recorded is None and isinstance(expected.metrics.get(path), dict):
        recorded = flatten(expected.metrics[path])
    return recorded


def recorded_metrics(
    root: Path, git: GitRepo, rev: str, commit: str, expected: Expected
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The metric values ``commit`` recorded, ``{file: {dotted name: value}}``, and
    the metrics files whose recorded values could not be read.

    Which files are metrics is DVC's rule, as ``tether diff`` applies it
    (``tether.metrics.collect``). Each file is read from git, else from the release
    manifest, else from the DVC cache under ``root`` (the project's, or once data
    has been fetched, the worktree's).
    """

    snap = Collector(root, git, params=False).at_commit(rev, commit)
    # A path still holding ``${...}`` is DVC's to resolve (see ``_templated``).
    errors = {e.path for e in snap.errors if "${" not in e.path}
    recorded: dict[str, dict[str, Any]] = {}
    for path in dict.fromkeys([*snap.metrics, *sorted(errors)]):
        values = _in_git_or_manifest(git, commit, path, expected)
        if values is None:
            values = snap.metrics.get(path)
        if values is not None:
            recorded[path] = values
    unread = sorted(errors - recorded.keys())
    return recorded, unread


def _templated(root: Path, commit: str) -> bool:
    """A dvc.yaml at ``commit`` uses templating (foreach/matrix, ``${...}`` in a path),
    which tether.metrics.collect leaves to DVC: its metrics files are known only
    once DVC has read the worktree."""
    return dvcfiles.read(root, commit).uses_templates


def _fetch(
    root: Path,
    repo: Any,
    tree: Path,
    commit: str,
    tracked: list[dvc.TrackedOutput],
    remote: tuple[str, dict[str, Any]] | None,
    source: str,
) -> int:
    """Bring the objects the worktree needs into its own cache; check inputs out.

    From the local cache: the pipeline's inputs (data added with ``dvc add``).
    From a remote: those and every cached output REF recorded, so a release whose
    data is missing or corrupted in the remote is caught even when it reproduces.
    """
    inputs = [o for o in tracked if o.stage is None and o.cached and o.md5]
    fetched = 0
    if remote:
        wanted = inputs + [o for o in tracked if o.stage is not None and o.cached and o.md5]
        note = _local_remote_note(root, remote)
        store = dvc.remote_store(repo, remote[0])
        fetched = _bring_objects(
            store, dvc.cache_store(repo), wanted, commit, source, remote[0], note
        )
    elif inputs:
        with dvc.open_repo(root) as home:
            fetched = _bring_objects(
                dvc.cache_store(home),
                dvc.cache_store(repo),
                inputs,
                commit,
                "local DVC cache",
                None,
            )
    if inputs:
        dvc.checkout(repo, [str(tree / o.path) for o in inputs])
    return fetched


def _compare_output(
    git: GitRepo,
    commit: str,
    tree: Path,
    out: dvc.TrackedOutput,
    ignored: Callable[[str], bool],
    expected: Expected,
    recorded: dict[str, dict[str, Any]],
    tolerances: list[Tolerance],
) -> tuple[OutputComparison, list[MetricComparison]]:
    """Hash one reproduced output from its bytes and judge it."""
    written = tree / out.path
    reproduced = hashing.output_md5(written, ignored)
    metrics: list[MetricComparison] = []
    if out.metric:
        before = recorded.get(out.path) or _in_git_or_manifest(git, commit, out.path, expected)
        after = parse_metrics(out.path, written.read_bytes()) if written.is_file() else None
        if before is not None and after is not None:
            metrics = compare_metrics(out.path, before, after, tolerances)
    status = output_status(out.md5, reproduced, metrics)
    in_manifest = expected.outputs.get(out.path)
    if in_manifest and in_manifest != reproduced and status == EXACT:
        status = DIFFERS
    comparison = OutputComparison(
        out.path, out.stage or "", out.md5, reproduced, status, in_manifest
    )
    return comparison, metrics


@dataclass(frozen=True)
class VerifyOptions:
    """How ``tether verify`` rebuilds: where the inputs come from (``from_remote``:
    the DVC remote ``remote``, else the default one; otherwise the local cache),
    which metric differences are tolerated, whether the worktree is kept, and the
    emulated CPU model (``cpu``) the stages run on, if any."""

    from_remote: bool = False
    remote: str | None = None
    tolerances: Sequence[Tolerance] = ()
    keep: bool = False
    cpu: str | None = None


def verify(
    root: Path,
    rev: str | Target,
    options: VerifyOptions | None = None,
    *,
    on_event: Notify | None = None,
    env_bin: Path | None = None,
) -> VerifyResult:
    """Rebuild ``rev`` from scratch and compare every output with what was recorded.

    ``rev`` is what the user typed, or the Target a caller already resolved
    (``tether.revisions.target``: the commit and the release manifest, the
    registry read once). ``env_bin`` runs the stage commands in that environment
    (a replayed one, ``tether.replay``) instead of the calling one; ``options.cpu``
    runs them on that emulated CPU model (qemu-user, ``tether.backends.emulator``). Raises
    UnknownRevision (exit 2) for an unknown ``rev``; ExternalError when data
    cannot be fetched; StageFailed (exit 4) when a stage's command fails;
    CheckFailed naming a corrupted object.
    A result that is not ``ok`` is returned, not raised.
    """
    with GitRepo(root) as git:
        found = rev if isinstance(rev, Target) else target(git, rev)
        return _verify(git, root, found, options or VerifyOptions(), on_event, env_bin)


@dataclass
class _Plan:
    """What verify knows before it builds anything."""

    commit: str
    has_manifest: bool
    expected: Expected
    recorded: dict[str, dict[str, Any]]
    tolerances: list[Tolerance]
    tolerances_checked: bool
    source_remote: tuple[str, dict[str, Any]] | None
    source: str
    manifest: Manifest | None = None


def _plan(git: GitRepo, root: Path, found: Target, options: VerifyOptions) -> _Plan:
    rev, commit, manifest = found.text, found.commit, found.manifest
    if git.read_blob(commit, dvc.LOCK_FILE) is None:
        raise UsageError(
            f"{rev} ({commit[:8]}) has no dvc.lock: nothing was recorded there to verify",
            "Verify a commit whose pipeline was run and committed (`tether run`, then commit).",
        )
    expected = from_manifest(manifest) if manifest else Expected()
    # Tolerances are checked against the recorded metric names before anything is
    # built; when some recorded values are only in a cache not yet fetched, a
    # tolerance that names nothing readable waits for the fetch (_recheck_tolerances).
    wanted = list(options.tolerances)
    recorded, unread = recorded_metrics(root, git, rev, commit, expected)
    defer = bool(unread) or _templated(root, commit)
    checked = not defer or not unmatched(wanted, recorded)
    if checked:
        check_tolerances(wanted, recorded, rev, commit=commit)
    source_remote = dvc.remote_settings(root, options.remote) if options.from_remote else None
    source = (
        f"remote {source_remote[0]} ({source_remote[1].get('url')})"
        if source_remote
        else "local cache"
    )
    return _Plan(
        commit, bool(manifest), expected, recorded, wanted, checked, source_remote, source, manifest
    )


def _recheck_tolerances(
    git: GitRepo, tree: Path, rev: str, plan: _Plan, tracked: list[dvc.TrackedOutput]
) -> None:
    """Check the deferred tolerances now that the worktree's cache holds what was
    fetched (with a remote: every recorded output) and DVC has named the metrics."""
    found, unread = recorded_metrics(tree, git, rev, plan.commit, plan.expected)
    plan.recorded = {**found, **plan.recorded}
    for out in tracked:
        values = None
        if out.metric and out.path not in plan.recorded:
            values = _in_git_or_manifest(git, plan.commit, out.path, plan.expected)
        if values is not None:
            plan.recorded[out.path] = values
    check_tolerances(plan.tolerances, plan.recorded, rev, unread, plan.commit)


def _run_stages(
    repo: Any,
    tree: Path,
    result: VerifyResult,
    notify: Notify,
    env_bin: Path | None = None,
    only: Sequence[str] = (),
) -> None:
    """Run every stage (or those named in ``only``) for real, in order, telling
    ``notify`` as each starts and ends; with ``env_bin``, in that environment."""
    stages = dvc.pipeline_stages(repo)
    if only:
        stages = [s for s in stages if dvc.stage_label(repo, s) in only]
    for index, stage in enumerate(stages, start=1):
        label = dvc.stage_label(repo, stage)
        notify(Event(EventKind.STAGE, label, EventState.START, index, len(stages)))
        started = time.perf_counter()
        dvc.reproduce_forced(repo, stage, log=tree.parent / STAGE_LOG, env_bin=env_bin)
        result.stages_run.append(label)
        seconds = time.perf_counter() - started
        notify(Event(EventKind.STAGE, label, EventState.DONE, index, len(stages), seconds))


def _steps(notify: Notify) -> Callable[[str, EventState, float], None]:
    def step(name: str, state: EventState, since: float = 0.0) -> None:
        seconds = time.perf_counter() - since if since else 0.0
        notify(Event(EventKind.STEP, name, state, seconds=seconds))

    return step


def _verify(
    git: GitRepo,
    root: Path,
    found: Target,
    options: VerifyOptions,
    on_event: Notify | None,
    env_bin: Path | None,
) -> VerifyResult:
    started = time.perf_counter()
    notify: Notify = on_event or (lambda event: None)
    rev, keep, cpu = found.text, options.keep, options.cpu
    plan = _plan(git, root, found, options)
    commit = plan.commit
    result = VerifyResult(
        rev=rev, commit=commit, source=plan.source, has_manifest=plan.has_manifest
    )
    step = _steps(notify)

    t = time.perf_counter()
    step("worktree", EventState.START, 0.0)
    with temporary_worktree(git, commit, keep=keep) as tree:
        step("worktree", EventState.DONE, t)
        if keep:
            result.kept_worktree = str(tree)
            result.stage_log = str(tree.parent / STAGE_LOG)
        dvc.configure_clean_worktree(
            tree,
            cache_dir=tree / ".dvc" / "cache",
            site_cache_dir=tree / ".dvc" / "tmp" / "site-cache",
            remote=plan.source_remote,
        )
        stage_bin = env_bin
        if cpu:
            python = (env_bin / "python") if env_bin else Path(sys.executable)
            stage_bin = emulator.python_wrapper(python, cpu, tree.parent / "emulated")
            result.emulated_cpu = cpu
        _rebuild(git, root, rev, tree, plan, result, notify, stage_bin, env_bin)

    result.seconds = time.perf_counter() - started
    return result


def _rebuild(
    git: GitRepo,
    root: Path,
    rev: str,
    tree: Path,
    plan: _Plan,
    result: VerifyResult,
    notify: Notify,
    env_bin: Path | None = None,
    packages_bin: Path | None = None,
) -> None:
    """Fetch the inputs into the clean worktree ``tree``, run every stage, hash
    every output and compare it with what was recorded (into ``result``)."""
    step = _steps(notify)
    commit = plan.commit
    with dvc.open_repo(tree) as repo:
        dvc.quiet_git_hints(repo)
        tracked = dvc.tracked_outputs(repo)
        produced = [o for o in tracked if o.stage is not None]
        if not any(o.md5 for o in produced):
            raise UsageError(
                f"dvc.lock at {rev} ({commit[:8]}) records no output hashes: nothing to verify",
                "Run the pipeline (`tether run`) and commit dvc.lock first.",
            )

        t = time.perf_counter()
        step("fetch", EventState.START, 0.0)
        result.objects_fetched = _fetch(
            root, repo, tree, commit, tracked, plan.source_remote, plan.source
        )
        step("fetch", EventState.DONE, t)
        if not plan.tolerances_checked:
            _recheck_tolerances(git, tree, rev, plan, tracked)

        profile = _probe_numerics(tree, plan, result, env_bin)

        def run(only: Sequence[str] = ()) -> None:
            with numerics.applied(profile):
                _run_stages(repo, tree, result, notify, env_bin, only)

        run()
        t = time.perf_counter()
        step("hash", EventState.START, 0.0)
        ignored = dvc.ignore_checker(repo)
        for out in produced:
            comparison, metrics = _compare_output(
                git, commit, tree, out, ignored, plan.expected, plan.recorded, plan.tolerances
            )
            result.outputs.append(comparison)
            result.metrics.extend(metrics)
        step("hash", EventState.DONE, t)
        _compare_environment(result, plan.expected, packages_bin, tree)
        if not result.ok:
            explain.explain(
                root, repo, tree, result, plan.expected, plan.manifest, produced, ignored, run
            )


def _probe_numerics(
    tree: Path, plan: _Plan, result: VerifyResult, env_bin: Path | None
) -> numerics.Profile:
    """What the stages will run with: the commit's profile, or ``native`` when this
    (maybe emulated) CPU cannot run it; recorded in ``result``."""
    wanted = numerics.of_project(tree)
    python = str(env_bin / "python") if env_bin else sys.executable
    found = environment.probe_numerics(wanted, tree, python=python, emulated=result.emulated_cpu)
    result.numerics_now = found
    result.numerics_recorded = plan.expected.numerics
    return numerics.PROFILES[numerics.NATIVE] if found.lacks else wanted


def _compare_environment(
    result: VerifyResult, expected: Expected, env_bin: Path | None, tree: Path
) -> None:
    """The environment now, as the stages saw it (``env_bin``'s interpreter, when they
    ran in another environment), and how it differs from the recorded one."""
    recorded_packages = list((expected.environment.get("packages") or {}).keys())
    names = recorded_packages or environment.DEFAULT_PACKAGES
    result.environment_now = environment.capture(names)
    if env_bin is not None:
        seen = environment.capture_in(str(env_bin / "python"), names, tree)
        if seen is not None:
            result.environment_now.update(seen)
    if expected.environment:
        result.environment = environment.differences(expected.environment, result.environment_now)
    # The worktree is the commit: its uv.lock is the commit's.
    now = envlock.running_in(str(env_bin / "python"), tree) if env_bin else envlock.running()
    try:
        result.lock_differences = envlock.differences(tree, now=now or envlock.running())
    except TetherError:
        result.lock_differences = None  # an unreadable uv.lock explains nothing
