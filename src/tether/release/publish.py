"""Publishing registry tags to the Git remote: one atomic push, then the truth.

A stage tag names its version through the release tag at the same commit; a
teammate who has the stage tag without the release tag sees a bare commit SHA in
the stage and cannot read the manifest. So whatever a write command creates is
pushed together with the release tag it depends on, in one ``git push --atomic``:
the remote takes all of them or none.

Two clones can push different tag names with the same counter N at the same moment
(one unassigns while the other promotes): both pushes succeed. So after a push the
remote's tags are listed again; tags of the artifact that another clone pushed in
between are fetched, and the command reports the registry as it now is, naming
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tether.backends.git import GitRepo
from tether.errors import ExternalError, UsageError
from tether.registry.tags import Action, parse_tag


@dataclass(frozen=True)
class Publication:
    """What one push did."""

    remote: str
    pushed: list[str]  # every tag this push published, in one atomic push
    carried: list[str] = field(default_factory=list)  # of those, the ones made earlier
    # Registry tags of the same artifact(s) another clone pushed while the command
    # ran; fetched after the push, so the state reported includes them.
    landed: list[str] = field(default_factory=list)
    # (our tag, their tag) pairs of one artifact with the same counter N
    clashes: list[tuple[str, str]] = field(default_factory=list)


def git_remote(git: GitRepo, needed_by: str = "--push") -> str:
    """The Git remote registry tags go to: ``origin``, or the only remote."""
    remotes = git.remotes()
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    raise UsageError(
        f"{needed_by} needs a Git remote: "
        + ("there is none" if not remotes else "several exist and none is 'origin'"),
        "Add one with `git remote add origin URL`, or run without --push.",
    )


def _artifact_of(tag: str) -> str | None:
    parsed = parse_tag(tag)
    return parsed.artifact if parsed is not None else None


def _counter_of(tag: str) -> int | None:
    parsed = parse_tag(tag)
    return parsed.counter if parsed is not None else None


def local_only(git: GitRepo, remote_tags: Iterable[str], artifact: str, stage: str) -> list[str]:
    """Tags of ``artifact``'s ``stage`` in this clone whose names the remote lacks (a
    promote made without --push, say), with the release tags of the versions they
    assign that the remote lacks too: a push of the stage's newest tag carries them,
    so the remote's history of the stage is the one this clone shows."""
    there = set(remote_tags)
    refs = [ref for ref in git.tag_refs() if ref.name not in there]
    parsed = {ref.name: parse_tag(ref.name) for ref in refs}
    mine = [
        ref
        for ref in refs
        if (p := parsed[ref.name]) is not None and p.artifact == artifact and p.stage == stage
    ]
    commits = {ref.target for ref in mine}
    releases = [
        ref.name
        for ref in refs
        if (p := parsed[ref.name]) is not None
        and p.artifact == artifact
        and p.action == Action.REGISTER
        and ref.target in commits
    ]
    return sorted(releases) + sorted(ref.name for ref in mine)


def push_tags(
    git: GitRepo,
    remote: str,
    created: list[str],
    carried: Iterable[str],
    before: set[str],
) -> Publication:
    """Push ``carried`` (tags made earlier, missing on the remote) and ``created``
    (made by this command) atomically.

    ``before`` is the remote's tag names as read before the tags were created. On
    rejection the ``created`` tags are deleted again locally and nothing is
    published. After the push, the remote's tags are listed again: any registry tag
    of the same artifacts that is neither ``before`` nor ours was pushed by another
    clone in between; it is fetched and reported.
    """
    carried = [t for t in dict.fromkeys(carried) if t not in created]
    tags = [*carried, *created]
    try:
        git.push_tags(remote, tags)
    except ExternalError as exc:
        for tag in created:
            git.delete_tag(tag)
        what = " and ".join(tags)
        raise ExternalError(
            f"pushing {what} to {remote!r} failed, so "
            + ("the local tag was deleted again and " if created else "")
            + f"nothing was published: {exc.message}",
            f"Fetch the remote's tags (`git fetch --tags {remote}`), check access, "
            "then run the command again.",
        ) from None
    artifacts = {a for a in map(_artifact_of, tags) if a is not None}
    landed, clashes = _landed(git, remote, before, tags, artifacts)
    return Publication(remote, tags, carried, landed, clashes)


def _landed(
    git: GitRepo, remote: str, before: set[str], ours: list[str], artifacts: set[str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Registry tags of ``artifacts`` that reached ``remote`` from elsewhere while
    this command ran, fetched now; and those sharing a counter with one of ours."""
    local = {ref.name for ref in git.tag_refs()}
    after = git.remote_tag_names(remote)
    landed = sorted(
        t
        for t in after
        if t not in before and t not in ours and t not in local and _artifact_of(t) in artifacts
    )
    if not landed:
        return [], []
    git.fetch_tags(remote, landed)
    clashes = [
        (mine, theirs)
        for mine in ours
        for theirs in landed
        if _artifact_of(mine) == _artifact_of(theirs)
        and _counter_of(mine) is not None
        and _counter_of(mine) == _counter_of(theirs)
    ]
    return landed, clashes
