"""Turning what a user typed into a commit: git revisions (branch, tag, SHA,
``HEAD~3``) and registry references (``NAME@v1.2.0``, ``NAME@latest``,
``NAME#prod``). Every command that takes a revision asks here."""

from __future__ import annotations

from tether.backends.git import GitRepo
from tether.errors import UnknownRevision
from tether.registry import state
from tether.registry.tags import parse_reference


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
