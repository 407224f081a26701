"""Writing the registry: release, promote, rollback, unassign, deregister.

Every function checks everything it can before it creates a tag, so a refusal
leaves no trace: names are validated before any git call, then the work tree,
the pipeline (``tether check``) and the DVC remote are checked. A tag is never
overwritten. With ``push``, the Git remote's tags are read first: if it holds
tags of the artifact that this clone lacks, the command acted on a stale registry
and is refused; otherwise the counter N is past every tag on both sides. A tag the
Git remote still rejects is deleted again locally, so local and remote never
disagree about a version or a stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tether import dvcfiles
from tether.backends import dvc
from tether.backends.git import GitRepo
from tether.errors import CheckFailed, ConfigError, ExternalError, UsageError
from tether.pipeline.check import check
from tether.registry import manifest as manifests
from tether.registry import state
from tether.registry.tags import (
    FIRST_VERSION,
    Action,
    SemVer,
    format_tag,
    next_counter,
    parse_tag,
    validate_name,
    validate_stage,
    validate_version,
)
from tether.release import record
from tether.revisions import resolve

BUMPS = ("major", "minor", "patch")


@dataclass(frozen=True)
class Released:
    artifact: str
    version: str
    tag: str
    commit: str
    dvc_remote: str
    uploaded: int
    manifest: manifests.Manifest
    pushed_to: str | None


@dataclass(frozen=True)
class StageChange:
    """A promote, rollback or unassign: the tag made and who holds the stage now."""

    artifact: str
    stage: str
    version: str  # the version the tag was made for
    tag: str
    commit: str
    previous: str | None  # who held the stage before
    current: str | None  # who holds it now
    pushed_to: str | None


@dataclass(frozen=True)
class Deregistered:
    artifact: str
    version: str
    tag: str
    commit: str
    pushed_to: str | None
    # The stages the version held, each with who holds it now (None: empty). As in
    # GTO, a stage falls back to the version assigned to it before, if any.
    stages: dict[str, str | None]


# --- shared checks -------------------------------------------------------------------


def declared_artifact(root: Path, commit: str, name: str) -> dvcfiles.Artifact:
    """The artifact ``name`` as dvc.yaml declares it at ``commit`` (``dir:name`` is
    declared in ``dir/dvc.yaml``); UsageError naming the declared ones if absent."""
    artifacts = dvcfiles.read(root, commit).artifacts
    if name in artifacts:
        return artifacts[name]
    folder = name.rpartition(":")[0]
    declared = [n.rpartition(":")[2] for n in artifacts if n.rpartition(":")[0] == folder]
    raise UsageError(
        f"{name!r} is not declared under `artifacts:` in dvc.yaml at {commit[:8]}",
        f"Declared: {', '.join(declared) or 'none'}. Add it to dvc.yaml and commit.",
    )


def _git_remote(git: GitRepo) -> str:
    remotes = git.remotes()
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    raise UsageError(
        "--push needs a Git remote: "
        + ("there is none" if not remotes else "several exist and none is 'origin'"),
        "Add one with `git remote add origin URL`, or run without --push.",
    )


def _taken_names(
    git: GitRepo, registry: state.Registry, name: str, remote: str | None
) -> list[str]:
    """The tag names a new tag of ``name`` must not reuse, nor count below.

    Without a remote, the local tags. With one, its tags too, read with one
    ``git ls-remote``; if it holds tags of ``name`` that this clone lacks, another
    clone changed the registry since the last fetch, and whatever this command
    decided from the local tags (the counter, the stage's holder) may be wrong: a
    different tag name with the same counter would even push cleanly and leave
    two events with one N. So that is refused before any tag is created.
    """
    if remote is None:
        return registry.tag_names
    theirs = git.remote_tag_names(remote)
    local = set(registry.tag_names)
    missing = []
    for tag in theirs:
        parsed = parse_tag(tag)
        if tag not in local and parsed is not None and parsed.artifact == name:
            missing.append(tag)
    if missing:
        listed = ", ".join(sorted(missing)[:5]) + (" ..." if len(missing) > 5 else "")
        raise UsageError(
            f"the Git remote {remote!r} has registry tags of {name} that this clone lacks "
            f"({listed}), so the registry state this command read is stale; no tag was created",
            f"Fetch them (`git fetch --tags {remote}`), check `tether show {name}`, "
            "then run the command again.",
        )
    return [*registry.tag_names, *(t for t in theirs if t not in local)]


def _create(git: GitRepo, taken: list[str], tag: str, commit: str, message: str) -> None:
    if tag in taken:
        raise UsageError(
            f"tag {tag} already exists; tether never overwrites a tag", "Run `tether show`."
        )
    git.create_tag(tag, commit, message)


def _publish(git: GitRepo, tag: str, remote: str | None) -> str | None:
    """Push ``tag``; on rejection delete it locally and say nothing was published."""
    if remote is None:
        return None
    try:
        git.push_tag(remote, tag)
    except ExternalError as exc:
        git.delete_tag(tag)
        raise ExternalError(
            f"pushing {tag} to {remote!r} failed, so the local tag was deleted again and "
            f"nothing was published: {exc.message}",
            "Fetch the remote's tags (`git fetch --tags`), check access, then run the command again.",
        ) from None
    return remote


def _artifact(registry: state.Registry, name: str) -> state.Artifact:
    found = registry.find(name)
    if found is None:
        known = ", ".join(registry.artifacts) or "none yet"
        raise UsageError(
            f"no artifact {name!r} in the registry (released: {known})",
            f"Release it first: `tether release {name}`.",
        )
    return found


def _open(root: Path, name: str) -> tuple[GitRepo, state.Registry, state.Artifact]:
    """The repository, its registry read once, and the released artifact ``name``."""
    git = GitRepo(root)
    registry = state.read(git)
    return git, registry, _artifact(registry, name)


def _live_version(artifact: state.Artifact, version: str) -> state.Version:
    found = artifact.versions.get(version)
    if found is None or not found.registered:
        live = ", ".join(v.version for v in artifact.live_versions)
        raise UsageError(
            f"{artifact.name} has no version {version}",
            f"Released versions: {live or 'none'}.",
        )
    if not found.active:
        raise UsageError(
            f"{artifact.name} {version} was deregistered", "Release a new version instead."
        )
    return found


# --- release -------------------------------------------------------------------------


def _next_version(artifact: state.Artifact | None, version: str | None, bump: str | None) -> str:
    if version is not None:
        return validate_version(version)
    latest = artifact.latest if artifact else None
    if latest is None:
        return FIRST_VERSION
    return SemVer(latest).bump(bump or "patch")


def release(
    root: Path,
    name: str,
    version: str | None = None,
    bump: str | None = None,
    ref: str | None = None,
    message: str | None = None,
    push: bool = False,
) -> Released:
    """Register ``name`` at HEAD as a new version, refusing anything not reproducible."""
    with GitRepo(root) as git:
        return _release(git, root, name, version, bump, ref, message, push)


def _check_arguments(name: str, version: str | None, bump: str | None) -> None:
    validate_name(name)
    if version is not None and bump is not None:
        raise UsageError("give --version or --bump, not both")
    if version is not None:
        validate_version(version)
    if bump is not None and bump not in BUMPS:
        raise UsageError(f"unknown bump {bump!r}: use major, minor or patch")


def _release_commit(git: GitRepo, name: str, ref: str | None) -> str:
    """HEAD, when ``ref`` (if given) names it and the work tree is clean."""
    head = git.head()
    if head is None:
        raise UsageError("the repository has no commits yet", "Commit the project first.")
    commit = resolve(git, ref) if ref is not None else head
    if commit != head:
        raise UsageError(
            f"--ref {ref} is not the checked-out commit; tether releases only what it can check",
            f"Check it out first (`git checkout {ref}`), then run `tether release {name}`.",
        )
    return commit


def _require_clean(git: GitRepo) -> None:
    changed = git.tracked_changes()
    if changed:
        listed = ", ".join(p for _, p in changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise CheckFailed(
            f"the work tree has uncommitted changes to tracked files ({listed}); "
            "a release must be exactly a commit",
            "Commit them (`git commit -a`) or set them aside (`git stash`), then release again.",
        )


def _new_tag(registry: state.Registry, name: str, new_version: str, commit: str) -> str:
    """The registration tag of ``name`` ``new_version`` at ``commit``, refused when
    the version or the commit is already released or the tag exists."""
    artifact = registry.find(name)
    if artifact is not None:
        existing = artifact.versions.get(new_version)
        if existing is not None and existing.registered:
            raise UsageError(
                f"{name} {new_version} already exists"
                + ("" if existing.active else " (deregistered)"),
                "Choose another version, or `--bump minor` from the latest.",
            )
        at_commit = artifact.version_at(commit)
        if at_commit is not None and at_commit.active:
            raise UsageError(
                f"commit {commit[:8]} is already released as {name} {at_commit.version}",
                f"Promote that version instead: `tether promote {name} {at_commit.version} STAGE`.",
            )
    tag = format_tag(Action.REGISTER, name, version=new_version)
    if tag in registry.tag_names:
        raise UsageError(
            f"tag {tag} already exists; tether never overwrites a tag", "Choose another version."
        )
    return tag


def _require_reproducible(root: Path, commit: str) -> str:
    """``tether check`` passes; returns the default DVC remote the data goes to."""
    result = check(root)
    if not result.reproducible:
        lines = "; ".join(f"{p.message} (fix: {p.fix})" for p in result.problems[:5])
        raise CheckFailed(
            f"`tether check` fails at {commit[:8]}, so it cannot be released: {lines}",
            "Fix the problems (`tether check` lists them), commit, then release again.",
        )
    dvc_remote = dvc.default_remote(root)
    if dvc_remote is None:
        raise ConfigError(
            "no default DVC remote is configured, so the release's data could not be fetched by anyone else",
            "Add one: `dvc remote add -d storage URL`, commit .dvc/config, then release again.",
        )
    return dvc_remote


def _release(
    git: GitRepo,
    root: Path,
    name: str,
    version: str | None = None,
    bump: str | None = None,
    ref: str | None = None,
    message: str | None = None,
    push: bool = False,
) -> Released:
    _check_arguments(name, version, bump)
    commit = _release_commit(git, name, ref)
    path = declared_artifact(root, commit, name).path
    _require_clean(git)

    registry = state.read(git)
    new_version = _next_version(registry.find(name), version, bump)
    tag = _new_tag(registry, name, new_version, commit)
    remote = _git_remote(git) if push else None
    taken = _taken_names(git, registry, name, remote)  # before the slow checks

    dvc_remote = _require_reproducible(root, commit)
    uploaded = dvc.push_outputs(root, dvc_remote)

    built = record.build(root, git, commit, name, new_version, path)
    human = (
        message or f"Release {name} {new_version} ({path or 'artifact'}) from commit {commit[:8]}"
    )
    _create(git, taken, tag, commit, manifests.render(built, human))
    pushed = _publish(git, tag, remote)
    return Released(name, new_version, tag, commit, dvc_remote, uploaded, built, pushed)


# --- stages ---------------------------------------------------------------------------


def _assign(
    git: GitRepo,
    registry: state.Registry,
    artifact: state.Artifact,
    version: state.Version,
    stage: str,
    action: Action,
    message: str,
    remote: str | None,
) -> StageChange:
    previous = artifact.stages.get(stage)
    taken = _taken_names(git, registry, artifact.name, remote)
    tag = format_tag(action, artifact.name, stage=stage, counter=next_counter(taken, artifact.name))
    _create(git, taken, tag, version.commit, message)
    pushed = _publish(git, tag, remote)
    current = state.read(git).artifacts[artifact.name].stages.get(stage)
    return StageChange(
        artifact.name, stage, version.version, tag, version.commit, previous, current, pushed
    )


def promote(root: Path, name: str, version: str, stage: str, push: bool = False) -> StageChange:
    """Assign ``stage`` to ``version`` of ``name``."""
    validate_name(name)
    validate_version(version)
    validate_stage(stage)
    git, registry, artifact = _open(root, name)
    found = _live_version(artifact, version)
    if artifact.stages.get(stage) == version:
        raise UsageError(f"{name} {version} is already in stage {stage!r}", "Run `tether show`.")
    remote = _git_remote(git) if push else None
    return _assign(
        git, registry, artifact, found, stage, Action.ASSIGN,
        f"Promote {name} {version} to {stage}", remote,
    )  # fmt: skip


def rollback_target(artifact: state.Artifact, stage: str) -> str | None:
    """The version that held ``stage`` before the current one.

    Holders form a stack: a new version goes on top; going back to a version below
    (a rollback) takes off everything above it. So rolling back twice from v3 goes
    to v2, then v1, never back to the v3 that was rolled back from.
    """
    stack: list[str] = []
    for holder in artifact.holders(stage):
        if holder is None:
            continue
        if holder in stack:
            del stack[stack.index(holder) + 1 :]
        else:
            stack.append(holder)
    current = artifact.stages.get(stage)
    for version in reversed(stack):
        info = artifact.versions.get(version)
        if version != current and info is not None and info.active:
            return version
    return None


def rollback(root: Path, name: str, stage: str, push: bool = False) -> StageChange:
    """Assign ``stage`` back to the version that held it before the current one."""
    validate_name(name)
    validate_stage(stage)
    git, registry, artifact = _open(root, name)
    current = artifact.stages.get(stage)
    if current is None:
        raise UsageError(
            f"no version of {name} is in stage {stage!r}, so there is nothing to roll back"
        )
    target = rollback_target(artifact, stage)
    if target is None:
        raise UsageError(
            f"no version of {name} held stage {stage!r} before {current}",
            f"Promote another version instead: `tether promote {name} VERSION {stage}`.",
        )
    remote = _git_remote(git) if push else None
    return _assign(
        git, registry, artifact, artifact.versions[target], stage, Action.ASSIGN,
        f"Roll back {name} {stage} from {current} to {target}", remote,
    )  # fmt: skip


def unassign(root: Path, name: str, stage: str, push: bool = False) -> StageChange:
    """Take ``stage`` from the version that holds it now."""
    validate_name(name)
    validate_stage(stage)
    git, registry, artifact = _open(root, name)
    current = artifact.stages.get(stage)
    if current is None:
        raise UsageError(f"no version of {name} is in stage {stage!r}", "Run `tether show`.")
    remote = _git_remote(git) if push else None
    return _assign(
        git, registry, artifact, artifact.versions[current], stage, Action.UNASSIGN,
        f"Unassign {stage} from {name} {current}", remote,
    )  # fmt: skip


def deregister(root: Path, name: str, version: str, push: bool = False) -> Deregistered:
    """Mark ``version`` as withdrawn; it leaves every stage and `latest`."""
    validate_name(name)
    validate_version(version)
    git, registry, artifact = _open(root, name)
    found = _live_version(artifact, version)
    remote = _git_remote(git) if push else None
    held = sorted(stage for stage, holder in artifact.stages.items() if holder == version)
    taken = _taken_names(git, registry, name, remote)
    tag = format_tag(Action.DEREGISTER, name, version=version)
    _create(git, taken, tag, found.commit, f"Deregister {name} {version}")
    pushed = _publish(git, tag, remote)
    now = state.read(git).artifacts[name].stages
    return Deregistered(name, version, tag, found.commit, pushed, {s: now.get(s) for s in held})
