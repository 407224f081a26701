"""Turning what a user typed into a commit: git revisions (branch, tag, SHA,
``HEAD~3``) and, once the registry knows them, registry references
(``NAME@v1.2.0``, ``NAME#prod``). Every command that takes a revision asks here."""

from __future__ import annotations

from tether.backends.git import GitRepo


def resolve(git: GitRepo, rev: str) -> str:
    """The full commit SHA for ``rev``; raises UnknownRevision (exit 2) if none."""
    return git.resolve(rev)
