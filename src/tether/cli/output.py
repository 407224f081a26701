"""Consoles for the command layer: data on stdout, messages on stderr.

rich is imported on first use, not at startup: ``tether --help`` never needs it.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@cache
def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def out(text: str) -> None:
    """A plain line of text on stdout (no markup interpretation)."""
    console().print(text, markup=False)


def err(text: str) -> None:
    """A plain line of text on stderr (no markup interpretation)."""
    console(stderr=True).print(text, markup=False)


def error(message: str, hint: str | None = None) -> None:
    """Print an error for the user: what went wrong, then what to run next."""
    from rich.markup import escape

    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    if hint:
        console(stderr=True).print(hint, markup=False)


def print_table(table: Any) -> None:
    """A rich table on stdout at its full width (never narrower than the console),
    so no number is cut or wrapped; a narrow terminal wraps whole lines instead."""
    from rich.console import Console

    stdout = console()
    natural = stdout.measure(table, options=stdout.options.update_width(10_000)).maximum
    if natural <= stdout.width:
        stdout.print(table)
    else:  # Console.print never goes wider than the console: use a wider one
        Console(width=natural, highlight=False, force_terminal=stdout.is_terminal).print(table)


def print_json(data: Any) -> None:
    """Strict JSON on stdout: NaN and infinities written as "NaN", "Infinity" and
    "-Infinity", as every ``--json`` of tether writes them."""
    from tether.metrics.formats import json_safe

    text = json.dumps(json_safe(data), indent=2, allow_nan=False, sort_keys=False)
    sys.stdout.write(text + "\n")
