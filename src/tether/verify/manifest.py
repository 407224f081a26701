"""What a release recorded, as far as verify needs it.

The registry stores a manifest with each release. verify does not read the
registry's storage itself: it takes the manifest as a plain dict (``Expected``
is built by ``from_manifest``), so the two evolve without importing each other.
The shapes accepted are::

    outputs:      {path: md5}  or  [{"path": ..., "md5": ...}, ...]
    metrics:      {file: {name: value}}  or  {name: value}
    environment:  {"python": ..., "platform": ..., "packages": {...}, "threads": {...}}

Keys may also sit under a top-level ``manifest`` key. Missing parts are fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from tether.backends.git import GitRepo


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
    raw = body.get("outputs") or {}
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
    environment = body.get("environment") or body.get("env") or {}
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
    for text in (message, body):
        data = _parse(text.strip())
        if data is None:
            continue
        inner = data.get("manifest", data)
        if isinstance(inner, dict) and {"outputs", "metrics", "environment"} & inner.keys():
            return data
    return None


def find_manifest(git: GitRepo, rev: str) -> dict[str, Any] | None:
    """The release manifest for ``rev``, or None when ``rev`` is not a release.

    Today: a manifest held in the annotated tag ``rev`` (``from_tag``). The
    registry plugs its own lookup in here (NAME@vX.Y.Z -> its tag's manifest).
    """
    return from_tag(git, rev)
