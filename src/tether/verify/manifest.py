"""What a release recorded, as far as verify needs it.

The manifest format belongs to the registry (``tether.registry.manifest``): a human
line, then ``tether-manifest:`` and a JSON document in the release's annotated tag.
Here it is reduced to what verify compares: output hashes, metrics, environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.environment import NumericsRecord
from tether.registry.manifest import Manifest


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
