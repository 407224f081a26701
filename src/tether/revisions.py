"""Turning what a user typed into a commit: git revisions (branch, tag, SHA,
``HEAD~3``) and registry references (``NAME@v1.2.0``, ``NAME@latest``,
``NAME#prod``). Every command that takes a revision asks here.

``target`` is the one resolver for commands that act on a revision that may be a
release (verify, replay): the text is parsed once, the registry read once, and the
release's record attached to the commit, so nothing below reads the registry
again. ``release`` is the same for commands that act on a release only (serve,
export, monitor, manifest): a Target whose record is always there. ``resolve`` is
the commit alone, for commands that need no more (diff, history, check).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tether.backends.git import GitRepo
from tether.errors import ForgedManifest, TetherError, UnknownRevision, UsageError
from tether.registry import manifest as manifests
from tether.registry import state
from tether.registry.tags import Reference, parse_reference


@dataclass(frozen=True)
class Target:
    """What a revision names: its commit and, when it names a release (a registry
    reference, or a release's annotated tag by its name), that release's manifest.
    ``record`` is the registry's record (tag, version, withdrawal) for a reference."""

    text: str  # as typed
    commit: str
    manifest: manifests.Manifest | None = None
    record: manifests.ReleaseRecord | None = None
    reference: Reference | None = None  # the registry reference text parsed as, if any


def target(git: GitRepo, text: str) -> Target:
    """The commit ``text`` names and the release it names, if any; UnknownRevision
    (exit 2) when it names nothing, ForgedManifest when a release's manifest does
    not describe its tag's commit."""
    reference = parse_reference(text)
    if reference is None:
        commit = resolve(git, text)
        return Target(text, commit, manifests.in_tag(git, text, commit))
    registry = state.read(git)
    registry.check_reference(reference, text)
    registered = state.resolve_reference(registry, reference)
    if registered is None:
        # A plain git ref may look like a reference (a branch "a@v1.0.0"), and a
        # deregistered version's tag still holds its manifest.
        try:
            commit = git.resolve(text)
        except UnknownRevision:
            raise UnknownRevision(text, state.unresolved_hint(registry, reference)) from None
        return Target(text, commit, manifests.in_tag(git, text, commit))
    try:
        record = manifests.record_in(registry, reference, text)
    except ForgedManifest:
        raise  # a manifest that lies is an error, never a release without one
    except TetherError:
        return Target(text, registered, reference=reference)  # a stage's unregistered commit
    return Target(text, registered, record.manifest, record, reference)


def release(repo: GitRepo | Path, text: str) -> Target:
    """The release ``text`` names: ``NAME@vX.Y.Z``, ``NAME@latest`` or ``NAME#STAGE``
    (the version in that stage now), with its record and manifest; the registry is
    read once. ``repo`` is an open GitRepo or a work tree's root.

    A deregistered version named as ``NAME@vX.Y.Z`` is found too, with its
    deregistration tag in ``record.deregistered``: it is out of ``latest`` and
    every stage, but its tag still records how it was built. UsageError when
    ``text`` is not a reference or names no registered version.
    """
    reference = parse_reference(text)
    if reference is None:
        raise UsageError(
            f"{text!r} is not a registry reference",
            "Name a release as NAME@vX.Y.Z, NAME@latest or NAME#STAGE, e.g. cancer-classifier#prod.",
        )
    if isinstance(repo, Path):
        with GitRepo(repo) as git:
            registry = state.read(git)
    else:
        registry = state.read(repo)
    registry.check_reference(reference, text)
    record = manifests.record_in(registry, reference, text)
    return Target(text, record.commit, record.manifest, record, reference)


def resolve(git: GitRepo, rev: str) -> str:
    """The full commit SHA for ``rev``; raises UnknownRevision (exit 2) if none.

    A registry reference is looked up in the registry (one pass over the tags):
    ``NAME@vX.Y.Z`` is the commit that version was registered at, ``NAME#STAGE``
    the commit of the version currently in that stage. Anything else goes to git.
    """
    reference = parse_reference(rev)
    if reference is None:
        try:
            return git.resolve(rev)
        except UnknownRevision:
            commit = experiment(git, rev)
            if commit is None:
                raise
            return commit
    registry = state.read(git)
    registry.check_reference(reference, rev)
    commit = state.resolve_reference(registry, reference)
    if commit is not None:
        return commit
    try:
        # A plain git ref may happen to look like a reference (a branch "a@v1.0.0").
        return git.resolve(rev)
    except UnknownRevision:
        raise UnknownRevision(rev, state.unresolved_hint(registry, reference)) from None


def experiment(git: GitRepo, name: str) -> str | None:
    """The commit of the DVC experiment ``name`` (a ``tether tune`` trial, or one
    ``dvc exp run`` saved): ``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``."""
    found = {
        sha
        for ref, sha in git.refs_under("refs/exps/").items()
        if ref.count("/") == 4 and ref.rsplit("/", 1)[1] == name
    }
    if len(found) > 1:
        raise UnknownRevision(
            name, "Several experiments have this name: give the commit (`dvc exp show --sha`)."
        )
    return found.pop() if found else None
