"""Consoles for the command layer: data on stdout, messages on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str, hint: str | None = None) -> None:
    """Print an error for the user: what went wrong, then what to run next."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    if hint:
        stderr.print(hint, markup=False)


def print_json(data: Any) -> None:
    """Strict JSON (no NaN or Infinity) on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False, sort_keys=False) + "\n")
