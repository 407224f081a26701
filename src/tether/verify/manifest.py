"""What a release recorded, as far as verify needs it.

The registry stores a manifest in each release's annotated tag: a human line, a
blank line, ``tether-manifest:`` and a JSON document. verify does not depend on
the registry's classes: it takes the manifest as a plain dict (``Expected`` is
built by ``from_manifest``), so the two evolve without importing each other.
The keys read are::

    outs (or outputs):  {path: md5}  or  [{"path": ..., "md5": ...}, ...]
    metrics:            {file: {name: value}}
    python, platform:   strings;  packages: {name: version};  threads: {name: count}
    environment:        the four above grouped under one key (also accepted)

Keys may also sit under a top-level ``manifest`` key. Missing parts are fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from tether.backends.git import GitRepo
from tether.errors import TetherError

MARKER = "tether-manifest:"
ENVIRONMENT_KEYS = ("python", "implementation", "platform", "machine", "packages", "threads")


@dataclass(frozen=True)
class Expected:
    """The hashes, metrics and environment a release manifest recorded."""

    outputs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)


def from_manifest(manifest: dict[str, Any]) -> Expected:
    """Read the parts verify compares from a release manifest dict."""
    body = manifest.get("manifest", manifest)
    outputs: dict[str, str] = {}
    raw = body.get("outputs") or body.get("outs") or {}
    if isinstance(raw, dict):
        for path, value in raw.items():
            md5 = value.get("md5") if isinstance(value, dict) else value
            if md5:
                outputs[str(path)] = str(md5)
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and item.get("path") and item.get("md5"):
                outputs[str(item["path"])] = str(item["md5"])
    metrics = body.get("metrics") or {}
    environment = body.get("environment") or {
        key: body[key] for key in ENVIRONMENT_KEYS if body.get(key) is not None
    }
    return Expected(
        outputs=outputs,
        metrics=metrics if isinstance(metrics, dict) else {},
        environment=environment if isinstance(environment, dict) else {},
    )


def _parse(text: str) -> dict[str, Any] | None:
    for loader in (json.loads, yaml.safe_load):
        try:
            data = loader(text)
        except (ValueError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            return data
    return None


def from_tag(git: GitRepo, rev: str) -> dict[str, Any] | None:
    """The manifest stored in the annotated tag ``rev``, if it is one and holds one.

    A tag message is taken as a manifest when it (or its body after the subject
    line) parses to a mapping with ``outputs``, ``metrics`` or ``environment``.
    """
    message = git.tag_message(rev)
    if not message:
        return None
    _, _, body = message.partition("\n")
    _, marker, marked = message.partition(f"\n{MARKER}\n")
    for text in (marked, message, body) if marker else (message, body):
        data = _parse(text.strip())
        if data is None:
            continue
        inner = data.get("manifest", data)
        if isinstance(inner, dict) and {"outputs", "outs", "metrics", "environment"} & inner.keys():
            return data
    return None


def find_manifest(git: GitRepo, rev: str) -> dict[str, Any] | None:
    """The release manifest for ``rev``, or None when ``rev`` is not a release.

    A registry reference (``NAME@vX.Y.Z``, ``NAME@latest``, ``NAME#STAGE``) is
    looked up in the registry; any other ``rev`` naming an annotated tag (a
    registry tag named in full included) is read from that tag's message.
    """
    from tether.registry.manifest import lookup
    from tether.registry.tags import parse_reference

    if parse_reference(rev) is not None:
        try:
            return dict(lookup(git.root, rev).manifest.to_dict())
        except TetherError:
            return None  # a git ref that only looks like a reference
    return from_tag(git, rev)
