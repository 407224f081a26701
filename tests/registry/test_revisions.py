"""revisions.resolve understands registry references and still resolves git ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import git
from tests.registry.conftest import Clock, tag_annotated
from tether.backends.git import GitRepo
from tether.errors import UnknownRevision
from tether.revisions import resolve


def test_resolve_registry_references(plain_registry: Path, clock: Clock) -> None:
    root = plain_registry
    first = git(root, "rev-parse", "HEAD~1")
    head = git(root, "rev-parse", "HEAD")
    tag_annotated(root, "m#prod#1", "HEAD~1", env=clock.env())
    repo = GitRepo(root)
    assert resolve(repo, "m@v0.1.0") == first
    assert resolve(repo, "m@latest") == head
    assert resolve(repo, "m#prod") == first
    assert resolve(repo, "HEAD~1") == first
    assert resolve(repo, "main") == head

    with pytest.raises(UnknownRevision) as stage:
        resolve(repo, "m#dev")
    assert "No version of m is in stage 'dev' (stages: prod=v0.1.0)" in str(stage.value)
    assert "Put one there with `tether promote m VERSION dev`." in str(stage.value)
    with pytest.raises(UnknownRevision) as typo:
        resolve(repo, "mm#prod")
    assert "No artifact 'mm' in the registry (registered: m). Did you mean m?" in str(typo.value)
    with pytest.raises(UnknownRevision) as version:
        resolve(repo, "m@v3.0.0")
    assert "m has no version v3.0.0 (registered: v0.1.0, v0.2.0)" in str(version.value)
    with pytest.raises(UnknownRevision):
        resolve(repo, "-m@v0.1.0")
