"""The recorded Hydra overrides: a small tracked file, so the composition behind
params.yaml can be redone exactly by anyone with the commit."""

from __future__ import annotations

from pathlib import Path

import yaml

from tether.errors import ConfigError, InvalidYaml
from tether.pipeline import atomic
from tether.yaml12 import load_yaml

OVERRIDES_FILE = Path(".tether") / "overrides.yaml"

HEADER = """\
# Written by `tether run`: the Hydra overrides params.yaml was composed with.
# `tether run` with no overrides reuses them; `tether run --reset` clears them.
# Commit this file with params.yaml.
"""


def overrides_path(root: Path) -> Path:
    return root / OVERRIDES_FILE


def load_overrides(root: Path) -> list[str]:
    """The recorded overrides, ``[]`` when none were recorded."""
    path = overrides_path(root)
    if not path.exists():
        return []
    return parse_overrides(path.read_bytes())


def parse_overrides(content: bytes) -> list[str]:
    """The overrides a recorded file holds (its bytes, from the work tree or a commit)."""
    try:
        data = load_yaml(content, OVERRIDES_FILE.as_posix()) or {}
    except InvalidYaml as exc:
        raise ConfigError(
            exc.message,
            "Fix it by hand, or run `tether run --reset` to clear the recorded overrides.",
        ) from None
    overrides = data.get("overrides", []) if isinstance(data, dict) else None
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(
            f"{OVERRIDES_FILE} must hold `overrides:` with a list of strings",
            "Run `tether run --reset` to clear it, or `tether run OVERRIDE...` to rewrite it.",
        )
    return overrides


def render_overrides(overrides: list[str]) -> bytes:
    body = yaml.safe_dump({"overrides": list(overrides)}, default_flow_style=False, sort_keys=False)
    return (HEADER + body).encode("utf-8")


def save_overrides(root: Path, overrides: list[str]) -> None:
    atomic.write_bytes(overrides_path(root), render_overrides(overrides))
