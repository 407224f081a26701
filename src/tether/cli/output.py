"""Consoles for the command layer: data on stdout, messages on stderr.

rich is imported on first use, not at startup: ``tether --help`` never needs it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


# Characters a terminal would obey rather than show: C0 controls but newline and
# tab (ESC starts colour, title and hyperlink sequences), DEL, C1 controls, and the
# bidirectional overrides and isolates that reorder what is shown.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with every terminal control character written as its escape (``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


class _Inert:
    """A renderable whose text reaches the terminal with control characters escaped.
    Only the text from tether's data is touched: the colours rich adds itself are
    written after this, and its own control segments (cursor moves) pass through."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: Any) -> Iterator[Any]:
        from rich.segment import Segment

        for segment in console.render(self.renderable, options):
            if segment.control or not _CONTROL.search(segment.text):
                yield segment
            else:
                yield Segment(visible(segment.text), segment.style)


def _escaping_hook() -> Any:
    from rich.console import RenderHook

    class EscapeControl(RenderHook):
        def process_renderables(self, renderables: list[Any]) -> list[Any]:
            return [_Inert(r) for r in renderables]

    return EscapeControl()


def make_console(**options: Any) -> Console:
    """A rich console that escapes terminal control characters in everything it
    prints: names, paths and messages come from repositories and tags, which anyone
    can fill with escape sequences (colours, window titles, hidden text)."""
    from rich.console import Console

    made = Console(**options)
    made.push_render_hook(_escaping_hook())
    return made


@cache
def console(stderr: bool = False) -> Console:
    return make_console(stderr=stderr, highlight=False, soft_wrap=True)


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


def warn(message: str) -> None:
    """A warning for the user: something was skipped, the command carried on."""
    console(stderr=True).print(f"[yellow]warning:[/] {_markup_escape(message)}", highlight=False)


def _markup_escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_table(table: Any) -> None:
    """A rich table on stdout at its full width (never narrower than the console),
    so no number is cut or wrapped; a narrow terminal wraps whole lines instead."""
    stdout = console()
    natural = stdout.measure(table, options=stdout.options.update_width(10_000)).maximum
    if natural <= stdout.width:
        stdout.print(table)
    else:  # Console.print never goes wider than the console: use a wider one
        wide = make_console(width=natural, highlight=False, force_terminal=stdout.is_terminal)
        wide.print(table)


def print_json(data: Any) -> None:
    """Strict JSON (no NaN or Infinity) on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False, sort_keys=False) + "\n")
