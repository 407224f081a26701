"""Writing the registry: release, promote, rollback, unassign, deregister.

Every function checks everything it can before it creates a tag, so a refusal
leaves no trace: names are checked once, when the command makes its ``Names``
(before it even looks for the repository), then the work tree,
the pipeline (``tether check``) and the DVC remote are checked. A tag is never
overwritten. With ``push``, the Git remote's tags are read first: if it holds
tags of the artifact that this clone lacks, the command acted on a stale registry
and is refused; otherwise the counter N is past every tag on both sides. A tag the
Git remote still rejects is deleted again locally, so local and remote never
disagree about a version or a stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tether import dvcfiles, objects, yaml12
from tether.backends import dvc
from tether.backends.git import GitRepo
from tether.errors import CheckFailed, ConfigError, TetherError, UsageError
from tether.pipeline.check import check
from tether.registry import manifest as manifests
from tether.registry import state
from tether.registry.gto_config import GtoConfig
from tether.registry.gto_config import load as load_config
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
from tether.release.publish import Publication, git_remote, local_only, push_tags
from tether.revisions import resolve

BUMPS = ("major", "minor", "patch")


@dataclass(frozen=True)
class Names:
    """What a registry write names: the artifact, and the version and the stage
    where the command takes them. Each is checked against the tag grammar's rules
    (``tether.registry.tags``) when made, and nowhere else."""

    artifact: str
    version: str | None = None
    stage: str | None = None

    def __post_init__(self) -> None:
        validate_name(self.artifact)
        if self.version is not None:
            validate_version(self.version)
        if self.stage is not None:
            validate_stage(self.stage)

    def version_and_stage(self) -> tuple[str, str, str]:
        """(artifact, version, stage), for a write that names all three."""
        if self.version is None or self.stage is None:
            raise UsageError(f"name a version and a stage of {self.artifact}")
        return self.artifact, self.version, self.stage

    def with_stage(self) -> tuple[str, str]:
        if self.stage is None:
            raise UsageError(f"name a stage of {self.artifact}")
        return self.artifact, self.stage

    def with_version(self) -> tuple[str, str]:
        if self.version is None:
            raise UsageError(f"name a version of {self.artifact}")
        return self.artifact, self.version


# Stores a release's reference profile (repo root, manifest, DVC remote) and returns
# its md5; the monitor domain provides it, the command passes it in.
ProfileHook = Callable[[Path, manifests.Manifest, str], str]


class _Pushable:
    """A registry change whose tags were pushed (``published``) or stayed local."""

    published: Publication | None  # None: the tag is local only

    @property
    def pushed_to(self) -> str | None:
        """The Git remote the tags went to, if they were pushed."""
        return self.published.remote if self.published else None


@dataclass(frozen=True)
class Released(_Pushable):
    artifact: str
    version: str
    tag: str
    commit: str
    dvc_remote: str
    uploaded: int
    manifest: manifests.Manifest
    published: Publication | None  # None: the tag is local only
    remote_note: str = ""  # said when the DVC remote is a folder inside this clone


@dataclass(frozen=True)
class StageChange(_Pushable):
    """A promote, rollback or unassign: the tag made and who holds the stage now."""

    artifact: str
    stage: str
    version: str  # the version the tag was made for
    tag: str
    commit: str
    previous: str | None  # who held the stage before
    current: str | None  # who holds it now
    published: Publication | None  # None: the tag is local only


@dataclass(frozen=True)
class Deregistered(_Pushable):
    artifact: str
    version: str
    tag: str
    commit: str
    published: Publication | None
    # The stages the version held, each with who holds it now (None: empty). As in
    # GTO, a stage falls back to the version assigned to it before, if any.
    stages: dict[str, str | None]


# --- shared checks -------------------------------------------------------------------


def declared_artifacts(
    root: Path, git: GitRepo, commit: str, config: GtoConfig
) -> dict[str, dvcfiles.Artifact]:
    """Every artifact declared at ``commit``: under ``artifacts:`` in each dvc.yaml
    (``dir:name`` in ``dir/dvc.yaml``), and in GTO's index file (``INDEX`` in .gto,
    ``artifacts.yaml`` by default), where GTO declares them."""
    found = dict(dvcfiles.read(root, commit).artifacts)
    blob = git.read_blob(commit, config.index)
    doc = yaml12.load_yaml(blob, f"{config.index} at {commit[:8]}") if blob else None
    for key, spec in (doc or {}).items() if isinstance(doc, dict) else []:
        spec = spec if isinstance(spec, dict) else {}
        found.setdefault(
            str(key),
            dvcfiles.Artifact(
                name=str(key),
                path=str(spec.get("path", "")),
                type=spec.get("type"),
                desc=spec.get("description"),
            ),
        )
    return found


def _declared_now(root: Path) -> list[str]:
    """The artifacts the work tree declares (for suggestions; [] if unreadable)."""
    try:
        return list(dvcfiles.read(root).artifacts)
    except TetherError:
        return []


def _taken_names(
    git: GitRepo, registry: state.Registry, name: str, remote: str | None
) -> tuple[list[str], dict[str, str]]:
    """The tag names a new tag of ``name`` must not reuse, nor count below.

    Without a remote, the local tags. With one, its tags too, read with one
    ``git ls-remote``; if it holds tags of ``name`` that this clone lacks, another
    clone changed the registry since the last fetch, and whatever this command
    decided from the local tags (the counter, the stage's holder) may be wrong: a
    different tag name with the same counter would even push cleanly and leave
    two events with one N. So that is refused before any tag is created.

    Also returns the remote's tags as read, ``{name: object id}`` (empty without
    a remote).
    """
    if remote is None:
        return registry.tag_names, {}
    theirs = git.remote_tags(remote)
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
    return [*registry.tag_names, *(t for t in theirs if t not in local)], theirs


def _create(git: GitRepo, taken: list[str], tag: str, commit: str, message: str) -> None:
    if tag in taken:
        raise UsageError(
            f"tag {tag} already exists; tether never overwrites a tag", "Run `tether show`."
        )
    git.create_tag(tag, commit, message)


def _publish(
    git: GitRepo,
    remote: str | None,
    tag: str,
    before: dict[str, str],
    release_tag: str | None = None,
) -> Publication | None:
    """Push ``tag`` with the release tag it depends on, unless the remote holds
    that very tag already: a stage tag is never published without its release.
    The stage's earlier tags this clone made but never pushed go with them (and
    their releases), so the remote's history of the stage is this clone's. One atomic push, so a remote
    holding a different tag of that name (which rejects it) gets none of them."""
    if remote is None:
        return None
    carried = []
    if release_tag and before.get(release_tag) != git.tag_object(release_tag):
        carried.append(release_tag)
    parsed = parse_tag(tag)
    if parsed is not None and parsed.stage is not None:
        carried += local_only(git, before, parsed.artifact, parsed.stage)
    return push_tags(git, remote, [tag], carried, set(before))


def _artifact(root: Path, registry: state.Registry, name: str) -> state.Artifact:
    found = registry.find(name)
    if found is not None:
        return found
    known = ", ".join(registry.artifacts) or "none yet"
    # A typo is likelier than a new artifact: suggest close names, released first.
    candidates = [
        *registry.artifacts,
        *(a for a in _declared_now(root) if a not in registry.artifacts),
    ]
    close = state.close_names(name, candidates)
    if not close:
        raise UsageError(
            f"no artifact {name!r} in the registry (released: {known})",
            f"Release it first: `tether release {name}`.",
        )
    best = close[0]
    raise UsageError(
        f"no artifact {name!r} in the registry (released: {known}); did you mean "
        f"{' or '.join(close)}?",
        f"Run the command again with {best}."
        if best in registry.artifacts
        else f"{best} is declared but not released yet: `tether release {best}`.",
    )


def _open(root: Path, name: str) -> tuple[GitRepo, state.Registry, state.Artifact]:
    """The repository, its registry read once, and the released artifact ``name``."""
    git = GitRepo(root)
    registry = state.read(git)
    registry.require_complete(f"changing {name}'s registry state", write=True)
    return git, registry, _artifact(root, registry, name)


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
        return version  # checked when its Names was made
    highest = artifact.highest_ever if artifact else None
    if highest is None:
        return FIRST_VERSION
    return SemVer(highest).bump(bump or "patch")


def release(
    root: Path,
    names: Names,
    bump: str | None = None,
    ref: str | None = None,
    message: str | None = None,
    push: bool = False,
    profile: ProfileHook | None = None,
) -> Released:
    """Register ``name`` at HEAD as a new version, refusing anything not reproducible.

    ``profile`` (the command passes ``tether.monitor.reference.store_profile``)
    stores the release's reference profile and returns its md5 for the manifest.
    """
    name, version = names.artifact, names.version
    _check_arguments(version, bump)
    with GitRepo(root) as git:
        return _release(git, root, name, version, bump, ref, message, push, profile)


def _check_arguments(version: str | None, bump: str | None) -> None:
    if version is not None and bump is not None:
        raise UsageError("give --version or --bump, not both")
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


def _declared_path(root: Path, git: GitRepo, commit: str, name: str) -> str:
    """The path of ``name`` as declared at ``commit`` (dvc.yaml or GTO's index);
    its type must be one .gto allows."""
    config = load_config(root)
    declared = declared_artifacts(root, git, commit, config)
    if name not in declared:
        close = state.close_names(name, declared)
        raise UsageError(
            f"{name!r} is not declared under `artifacts:` in dvc.yaml at {commit[:8]}"
            + (f"; did you mean {' or '.join(close)}?" if close else ""),
            f"Declared: {', '.join(declared) or 'none'}. Add it to dvc.yaml and commit.",
        )
    config.require_type(name, declared[name].type)
    return declared[name].path


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
    profile: ProfileHook | None = None,
) -> Released:
    commit = _release_commit(git, name, ref)
    path = _declared_path(root, git, commit, name)
    _require_clean(git)

    registry = state.read(git)
    registry.require_complete(f"releasing {name}", write=True)
    new_version = _next_version(registry.find(name), version, bump)
    tag = _new_tag(registry, name, new_version, commit)
    remote = git_remote(git) if push else None
    taken, before = _taken_names(git, registry, name, remote)  # before the slow checks

    dvc_remote = _require_reproducible(root, commit)
    # The tag message is complete before anything is uploaded: nothing fails after.
    built = record.build(root, git, commit, name, new_version, path)
    if profile is not None:
        # The reference `tether monitor` compares new data with; stored before the tag.
        built = replace(built, profile=profile(root, built, dvc_remote))
    human = (
        message or f"Release {name} {new_version} ({path or 'artifact'}) from commit {commit[:8]}"
    )
    tag_message = manifests.render(built, human)
    uploaded = dvc.push_outputs(root, dvc_remote)
    _create(git, taken, tag, commit, tag_message)
    pushed = _publish(git, remote, tag, before)
    note = objects.in_clone_note(root, *dvc.remote_settings(root, dvc_remote)).strip()
    return Released(name, new_version, tag, commit, dvc_remote, uploaded, built, pushed, note)


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
    taken, before = _taken_names(git, registry, artifact.name, remote)
    tag = format_tag(action, artifact.name, stage=stage, counter=next_counter(taken, artifact.name))
    _create(git, taken, tag, version.commit, message)
    pushed = _publish(git, remote, tag, before, version.tag)
    current = state.read(git).artifacts[artifact.name].stages.get(stage)
    return StageChange(
        artifact.name, stage, version.version, tag, version.commit, previous, current, pushed
    )


def promote(root: Path, names: Names, push: bool = False) -> StageChange:
    """Assign the stage ``names`` names to its version of its artifact."""
    name, version, stage = names.version_and_stage()
    git, registry, artifact = _open(root, name)
    registry.config.require_stage(stage)
    found = _live_version(artifact, version)
    if artifact.stages.get(stage) == version:
        raise UsageError(f"{name} {version} is already in stage {stage!r}", "Run `tether show`.")
    remote = git_remote(git) if push else None
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


def rollback(root: Path, names: Names, push: bool = False) -> StageChange:
    """Assign the stage back to the version that held it before the current one."""
    name, stage = names.with_stage()
    git, registry, artifact = _open(root, name)
    registry.config.require_stage(stage)
    current = artifact.stages.get(stage)
    if current is None:
        raise UsageError(
            f"no version of {name} is in stage {stage!r}, so there is nothing to roll back",
            f"`tether show {name}` lists its stages; put a version in {stage} with "
            f"`tether promote {name} VERSION {stage}`.",
        )
    target = rollback_target(artifact, stage)
    if target is None:
        raise UsageError(
            f"no version of {name} held stage {stage!r} before {current}",
            f"Promote another version instead: `tether promote {name} VERSION {stage}`.",
        )
    remote = git_remote(git) if push else None
    return _assign(
        git, registry, artifact, artifact.versions[target], stage, Action.ASSIGN,
        f"Roll back {name} {stage} from {current} to {target}", remote,
    )  # fmt: skip


def unassign(root: Path, names: Names, push: bool = False) -> StageChange:
    """Take the stage from the version that holds it now."""
    name, stage = names.with_stage()
    git, registry, artifact = _open(root, name)
    current = artifact.stages.get(stage)
    if current is None:
        raise UsageError(f"no version of {name} is in stage {stage!r}", "Run `tether show`.")
    remote = git_remote(git) if push else None
    return _assign(
        git, registry, artifact, artifact.versions[current], stage, Action.UNASSIGN,
        f"Unassign {stage} from {name} {current}", remote,
    )  # fmt: skip


def deregister(root: Path, names: Names, push: bool = False) -> Deregistered:
    """Mark the version as withdrawn; it leaves every stage and `latest`."""
    name, version = names.with_version()
    git, registry, artifact = _open(root, name)
    found = _live_version(artifact, version)
    remote = git_remote(git) if push else None
    held = sorted(stage for stage, holder in artifact.stages.items() if holder == version)
    taken, before = _taken_names(git, registry, name, remote)
    tag = format_tag(Action.DEREGISTER, name, version=version)
    _create(git, taken, tag, found.commit, f"Deregister {name} {version}")
    pushed = _publish(git, remote, tag, before, found.tag)
    now = state.read(git).artifacts[name].stages
    return Deregistered(name, version, tag, found.commit, pushed, {s: now.get(s) for s in held})
