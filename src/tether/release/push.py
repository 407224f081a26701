"""``tether push``: publish everything the registry holds locally, in one command.

1. The DVC data of every release (each registered version's cached outputs and
   DVC-tracked inputs, as its commit's dvc.lock records them) that the DVC remote
   lacks is uploaded from the local cache, each object rehashed before it leaves.
   This is also how a team moves to shared storage: point the remote elsewhere,
   run ``tether push``, and every old release's data follows.
2. Then every registry tag the Git remote lacks is pushed in one atomic push.

Data goes first, so nobody fetches a tag whose data is not there yet; if any
release's data is in neither the cache nor the remote, no tag is pushed. A local
tag that the remote holds under the same name but as a different tag, or that
shares its counter with a tag only the remote has (made without seeing it), is
refused before anything is pushed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tether import dvcfiles
from tether.backends import dvc
from tether.backends.git import GitRepo
from tether.errors import ConfigError, ExternalError, UsageError
from tether.registry import state
from tether.registry.tags import SemVer, parse_tag
from tether.release.publish import Publication, git_remote, push_tags


@dataclass(frozen=True)
class ReleaseData:
    """One release's data on the DVC remote, after the push."""

    tag: str
    objects: int  # files and directory listings its outputs need
    uploaded: int  # uploaded now
    missing: list[str] = field(default_factory=list)  # paths in neither cache nor remote
    corrupted: list[str] = field(default_factory=list)  # paths whose cached bytes are bad


@dataclass(frozen=True)
class Pushed:
    """What ``tether push`` published and what was already there."""

    git_remote: str
    published: Publication | None  # None: the Git remote had every registry tag
    present: list[str]  # registry tags the Git remote held already
    remote_only: list[str]  # registry tags only the Git remote has (fetch them)
    dvc_remote: str | None  # None: no release, so no data to push
    releases: list[ReleaseData]

    @property
    def pushed(self) -> list[str]:
        return self.published.pushed if self.published else []


def _release_objects(root: Path, git: GitRepo, commit: str) -> dict[str, str]:
    """``{object md5: path}`` of what DVC stores for a release at ``commit``: every
    cached stage output, and every input DVC tracks (``dvc add``-ed data: a
    dependency that git does not hold)."""
    project = dvcfiles.read(root, commit)
    found: dict[str, str] = {}
    deps: dict[str, str] = {}
    for stage in project.stages:
        for out in stage.outs:
            if out.cache and out.md5:
                found.setdefault(out.md5, out.path)
        for dep in stage.deps:
            if dep.md5:
                deps.setdefault(dep.path, dep.md5)
    in_git = git.files_at(commit, sorted(deps))
    for path, md5 in deps.items():
        if path not in in_git:
            found.setdefault(md5, path)
    return found


def _tags_to_push(
    git: GitRepo, registry: state.Registry, theirs: dict[str, str], remote: str
) -> tuple[list[str], list[str], list[str]]:
    """The registry tags to push, those the remote has, and those only it has."""
    mine = git.tag_objects()
    registry_tags = [
        name
        for artifact in registry.artifacts.values()
        for name in (event.tag for event in artifact.events)
    ]
    differ = [t for t in registry_tags if t in theirs and theirs[t] != mine.get(t)]
    if differ:
        raise UsageError(
            f"the Git remote {remote!r} holds different tags under the names of "
            f"{', '.join(sorted(differ))}; nothing was pushed",
            f"Compare them (`git ls-remote --tags {remote}`, `git show TAG`); tether never "
            "overwrites a tag.",
        )
    missing = [t for t in registry_tags if t not in theirs]
    present = [t for t in registry_tags if t in theirs]
    remote_only = sorted(t for t in theirs if t not in mine and parse_tag(t) is not None)
    clashes = []
    for tag in missing:
        ours = parse_tag(tag)
        for other in remote_only:
            theirs_parsed = parse_tag(other)
            if (
                ours is not None
                and theirs_parsed is not None
                and ours.counter is not None
                and (ours.artifact, ours.counter) == (theirs_parsed.artifact, theirs_parsed.counter)
            ):
                clashes.append(f"{tag} (here) and {other} (on {remote})")
    if clashes:
        raise UsageError(
            "tags made in this clone share a counter with tags only the Git remote has, so they "
            f"were made without seeing them: {'; '.join(clashes)}; nothing was pushed",
            f"Fetch them (`git fetch --tags {remote}`), check `tether show` and `tether log`, "
            "delete the local tag (`git tag -d TAG`) and redo that command.",
        )
    return missing, present, remote_only


def push(root: Path, remote: str | None = None, dvc_remote: str | None = None) -> Pushed:
    """Publish every registry tag the Git remote lacks and every release's data the
    DVC remote lacks (see the module docstring for the order and the refusals)."""
    git = GitRepo(root)
    registry = state.read(git)
    # The remote's tags are listed below, so nothing is overwritten; but the DVC data
    # of releases whose tags this clone lacks is not checked.
    registry.warn_incomplete("`tether push` (the DVC data of releases whose tags are missing here)")
    if remote is None:
        remote = git_remote(git, "`tether push`")
    elif remote not in git.remotes():
        raise UsageError(
            f"no Git remote named {remote!r}", "See `git remote -v`, or leave out --remote."
        )
    theirs = git.remote_tags(remote)
    missing, present, remote_only = _tags_to_push(git, registry, theirs, remote)

    name, data = _push_data(root, git, registry, dvc_remote)
    published = push_tags(git, remote, [], missing, set(theirs)) if missing else None
    return Pushed(remote, published, present, remote_only, name, data)


def _push_data(
    root: Path, git: GitRepo, registry: state.Registry, dvc_remote: str | None
) -> tuple[str | None, list[ReleaseData]]:
    """Upload every release's data the DVC remote lacks; the remote's name (None
    when no release has DVC data) and what became of each release's objects.
    ExternalError, before any tag is pushed, when some release's data is nowhere."""
    releases = [
        v
        for _, _, v in sorted(
            (a.name, SemVer(v.version), v)
            for a in registry.artifacts.values()
            for v in a.versions.values()
            if v.registered and v.tag
        )
    ]
    wanted = {v.tag or "": _release_objects(root, git, v.commit) for v in releases}
    everything = [oid for objects in wanted.values() for oid in objects]
    if not everything:  # no release has DVC data (a registry GTO wrote may have none)
        return None, []
    name = dvc_remote or dvc.default_remote(root)
    if name is None:
        raise ConfigError(
            "no default DVC remote is configured, so the releases' data has nowhere to go",
            "Add one (`dvc remote add -d NAME URL`), commit .dvc/config, then `tether push`.",
        )
    report = dvc.upload_verified(root, name, everything)
    data = [
        ReleaseData(
            tag=tag,
            objects=len(objects),
            uploaded=sum(1 for oid in objects if oid in report.uploaded),
            missing=sorted(p for oid, p in objects.items() if oid in report.missing),
            corrupted=sorted(p for oid, p in objects.items() if oid in report.corrupted),
        )
        for tag, objects in wanted.items()
    ]
    broken = [r for r in data if r.missing or r.corrupted]
    if broken:
        listed = "; ".join(
            f"{r.tag}: " + ", ".join([*r.missing, *(f"{p} (corrupted)" for p in r.corrupted)])
            for r in broken
        )
        raise ExternalError(
            f"the data of {len(broken)} release(s) is not in the local DVC cache nor in DVC "
            f"remote {name!r} ({listed}); {len(report.uploaded)} other object(s) were uploaded, "
            "and no tag was pushed",
            "Bring the data into the cache from where it still is (`dvc fetch -r OLD_REMOTE "
            "--all-tags`, or `dvc pull` in a clone that has it), then run `tether push` again.",
        )
    return name, data
