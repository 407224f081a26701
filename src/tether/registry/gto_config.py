"""GTO's registry configuration: the ``.gto`` file at the top of the work tree.

GTO reads three settings that change what a registry says (gto/config.py):

    stages: [dev, staging, prod]   the allowed stages; when set, `gto show` has one
                                   column per allowed stage, in this order, and an
                                   assignment to any other stage is no stage at all
                                   (its tags stay in `gto history`); `gto assign`
                                   to another stage is refused
    types: [model, dataset]        the allowed artifact types
    INDEX: artifacts.yaml          the file that declares artifacts (GTO's own
                                   index, beside dvc.yaml's `artifacts:`)

As in GTO, the environment overrides the file (``GTO_STAGES='["dev", "prod"]'``,
``GTO_TYPES``, ``GTO_INDEX``; JSON lists), keys are case-insensitive, and a missing
file means no restriction.

Every value GTO takes from the file is a name or a list of names, so the file is
read with ``tether.yaml12.load_strings``, which keeps every scalar a string: ``on``
or ``no`` stay stage names, as under GTO's YAML 1.2 loader (YAML 1.1 would make them
booleans).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether import yaml12
from tether.errors import ConfigError, UsageError

CONFIG_FILE = ".gto"
DEFAULT_INDEX = "artifacts.yaml"
MAX_CONFIG_BYTES = 1 << 20  # a .gto is a few lines; refuse anything huge


@dataclass(frozen=True)
class GtoConfig:
    stages: list[str] | None = None  # None: any stage
    types: list[str] | None = None  # None: any type
    index: str = DEFAULT_INDEX

    def allows_stage(self, stage: str) -> bool:
        return self.stages is None or stage in self.stages

    def require_stage(self, stage: str) -> None:
        """UsageError unless ``stage`` is allowed, listing the stages that are."""
        if not self.allows_stage(stage):
            raise UsageError(
                f"stage {stage!r} is not allowed by {CONFIG_FILE} "
                f"(allowed stages: {', '.join(self.stages or [])})",
                f"Use one of them, or add {stage!r} to `stages:` in {CONFIG_FILE} and commit it.",
            )

    def require_type(self, name: str, kind: str | None) -> None:
        """UsageError unless an artifact of type ``kind`` is allowed."""
        if self.types is None or kind in self.types:
            return
        raise UsageError(
            f"artifact {name!r} has type {kind!r}, which {CONFIG_FILE} does not allow "
            f"(allowed types: {', '.join(self.types)})",
            f"Set its `type:` to one of them in dvc.yaml, or add it to `types:` in {CONFIG_FILE}.",
        )


def _names(value: Any, key: str) -> list[str] | None:
    if value is None or value in ("", "~", "null", "Null", "NULL"):  # YAML's nulls
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{CONFIG_FILE}: `{key}` must be a list of names, got {value!r}",
            f"Write it as `{key}: [a, b]` in {CONFIG_FILE}.",
        )
    return list(value)


def _load(data: bytes | str) -> Any:
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{CONFIG_FILE} is larger than {MAX_CONFIG_BYTES} bytes", "Fix .gto.")
    return yaml12.load_strings(data, CONFIG_FILE)


def parse(data: bytes | str | None, environ: dict[str, str] | None = None) -> GtoConfig:
    """The configuration from the text of a ``.gto`` file (None: no file) and the
    environment (``os.environ`` when not given)."""
    doc = _load(data) if data else None
    doc = doc or {}
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{CONFIG_FILE} is not a mapping of settings", "See GTO's documentation of .gto."
        )
    settings = {str(k).lower(): v for k, v in doc.items()}
    env = os.environ if environ is None else environ
    for key in ("stages", "types", "index"):
        raw = env.get(f"GTO_{key.upper()}")
        if raw is None:
            continue
        if key == "index":
            settings[key] = raw
            continue
        try:
            settings[key] = json.loads(raw)
        except ValueError:
            raise ConfigError(
                f"GTO_{key.upper()} is not a JSON list: {raw!r}",
                f'Set it as GTO_{key.upper()}=\'["a", "b"]\', or unset it.',
            ) from None
    index = settings.get("index") or DEFAULT_INDEX
    return GtoConfig(
        stages=_names(settings.get("stages"), "stages"),
        types=_names(settings.get("types"), "types"),
        index=str(index),
    )


def load(root: Path) -> GtoConfig:
    """The configuration GTO would use in the work tree at ``root``."""
    path = root / CONFIG_FILE
    return parse(path.read_bytes() if path.is_file() else None)
