"""Params that changed only their type since a stage ran.

DVC compares a stage's params with the values dvc.lock recorded using Python's
``==``, so ``C: 1.0`` in dvc.lock and ``C: 1`` in params.yaml (or ``1`` and ``true``)
are equal to it and the stage counts as up to date, although its outputs were built
with the other value and a rebuild from the commit would give other bytes.
``tether check`` reports such stages; ``tether run`` reproduces them forced. Both
ask ``retyped_params``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether import dvcfiles
from tether.formats import FormatError, parse


@dataclass(frozen=True)
class Retyped:
    """One param of one stage whose value is equal to the recorded one, of another type."""

    stage: str  # DVC's addressing: ``train``, or ``sub/dvc.yaml:train``
    file: str  # the params file, repo-relative
    key: str  # dotted, with ``[i]`` for list items: ``model.params.C``
    was: Any  # as dvc.lock recorded it
    now: Any  # as the params file holds it

    @property
    def stage_name(self) -> str:
        """The stage's name without its dvc.yaml."""
        return self.stage.split(":")[-1]

    @property
    def change(self) -> str:
        """``model.params.C 1.0 -> 1``."""
        return f"{self.key} {self.was!r} -> {self.now!r}"


def retyped_params(root: Path, project: dvcfiles.Project) -> list[Retyped]:
    """Every locked stage's params that DVC calls unchanged although their type
    changed, read from the params files in the work tree at ``root``; by stage."""
    found: list[Retyped] = []
    current: dict[str, Any] = {}
    for entry in sorted(project.stages, key=lambda s: s.name):
        for file, recorded in entry.locked_params.items():
            if file not in current:
                current[file] = _read(root / file, file)
            for key, value in recorded.items():
                now = _select(current[file], key)
                found.extend(
                    Retyped(entry.name, file, where, was, is_)
                    for where, was, is_ in _differ_in_type(key, value, now)
                )
    return found


def _read(path: Path, name: str) -> Any:
    """The params file as DVC reads it; None when it is missing or one tether does
    not read (a Python params file): nothing is retyped there."""
    if not path.is_file():
        return None
    try:
        return parse(name, path.read_bytes())
    except FormatError:
        return None


def _select(doc: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _differ_in_type(where: str, was: Any, now: Any) -> list[tuple[str, Any, Any]]:
    """Leaves of ``was`` and ``now`` that are equal but of another type."""
    if isinstance(was, dict) and isinstance(now, dict):
        return [
            found
            for key in sorted(was.keys() & now.keys(), key=str)
            for found in _differ_in_type(f"{where}.{key}", was[key], now[key])
        ]
    if isinstance(was, list) and isinstance(now, list) and len(was) == len(now):
        return [
            found
            for i, (a, b) in enumerate(zip(was, now, strict=True))
            for found in _differ_in_type(f"{where}[{i}]", a, b)
        ]
    if was == now and type(was) is not type(now):
        return [(where, was, now)]
    return []
