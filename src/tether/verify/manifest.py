"""What a release recorded, as far as verify needs it.

The manifest format belongs to the registry (``tether.registry.manifest``): a human
line, then ``tether-manifest:`` and a JSON document in the release's annotated tag.
Here it is reduced to what verify compares: output hashes, metrics, environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.backends.git import GitRepo
from tether.environment import NumericsRecord
from tether.errors import ForgedManifest, TetherError
from tether.registry.manifest import Manifest, check_describes, lookup, parse
from tether.registry.tags import parse_reference


@dataclass(frozen=True)
class Expected:
    """The hashes, metrics and environment a release manifest recorded."""

    outputs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    numerics: NumericsRecord | None = None
    equivalence: dict[str, Any] = field(default_factory=dict)  # the recorded tolerances


def from_manifest(manifest: Manifest) -> Expected:
    """The parts of a release manifest that verify compares."""
    return Expected(
        outputs=dict(manifest.outs),
        metrics=dict(manifest.metrics),
        environment=manifest.environment(),
        numerics=NumericsRecord.from_dict(manifest.numerics),
        equivalence=dict(manifest.equivalence),
    )


def from_tag(git: GitRepo, rev: str) -> Manifest | None:
    """The manifest in the annotated tag ``rev``; None for any other revision, a
    lightweight tag, or a tag that `tether release` did not make."""
    message = git.tag_message(rev)
    found = parse(message) if message else None
    return check_describes(found, rev, git.resolve(rev)) if found else None


def find_manifest(git: GitRepo, rev: str) -> Manifest | None:
    """The release manifest for ``rev``, or None when ``rev`` is not a release.

    A registry reference (``NAME@vX.Y.Z``, ``NAME@latest``, ``NAME#STAGE``) is looked
    up in the registry; any other ``rev`` naming an annotated tag (a registry tag
    named in full included) is read from that tag's message.
    """
    if parse_reference(rev) is not None:
        try:
            return lookup(git.root, rev).manifest
        except ForgedManifest:
            raise
        except TetherError:
            return None  # a git ref that only looks like a reference
    return from_tag(git, rev)
