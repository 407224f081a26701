"""Renderers of a verify result: the terminal report (rich) and JSON.

Paths, stage and metric names, the revision and recorded values all come from the
repository being verified, so they are rich ``Text`` (never parsed as markup) with
control characters replaced: an output named ``[/x]`` or a metric named ``[red]x``
prints as written, and no escape sequence reaches the terminal. Only the fixed words
of the report carry styles.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

from tether.verify.reproduce import Event, OutputComparison, VerifyResult

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

# rich is imported inside the functions that draw: `tether verify --json` and the
# command layer's startup never need it.

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_GOOD = ("exact", "within tolerance")
_STYLES = {"exact": "green", "within tolerance": "yellow"}


def progress_bar(console: Console) -> Progress:
    """The bar shown while verify runs: step or stage, count, time. Off a terminal
    (a log, CI, a pipe) it is disabled: rich would end it with an empty line, and
    every error after it would start with one."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),  # holds REF and stage names
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_interactive,
    )


class ProgressView:
    """Shows verify's progress events on a bar, and a line per stage that ran."""

    def __init__(self, progress: Progress, console: Console, ref: str) -> None:
        self.progress = progress
        self.console = console
        self.ref = ref
        self.task = progress.add_task(f"verify {ref}: worktree", total=None)

    def __call__(self, event: Event) -> None:
        progress, task = self.progress, self.task
        if event.kind == "stage" and event.state == "start":
            progress.update(
                task,
                total=event.total,
                completed=event.index - 1,
                description=f"verify {self.ref}: stage {event.name}",
            )
        elif event.kind == "stage":
            progress.update(task, completed=event.index)
            self.console.print(_text(f"  ran {event.name} in {event.seconds:.1f}s"))
        elif event.state == "start":
            progress.update(task, description=f"verify {self.ref}: {event.name}")


def as_json(result: VerifyResult) -> dict[str, Any]:
    """The result as strict-JSON-ready data (``tether verify --json``)."""
    return result.to_dict()


def terminal(result: VerifyResult, console: Console) -> None:
    """The terminal report: outputs, metrics, environment, verdict."""
    console.print(_text(f"verify {result.rev} ({result.commit[:8]}), inputs from {result.source}"))
    console.print(_outputs_table(result.outputs))
    # Full hashes of what differs, one line each, for the reader to search and copy.
    for line in _difference_lines(result.outputs):
        console.print(_text(line))
    for table in _metrics_tables(result):
        console.print(table)
    for line in _environment_lines(result):
        console.print(_text(line))
    if result.kept_worktree:
        console.print(
            _text(f"kept worktree: {result.kept_worktree} (stage output: {result.stage_log})")
        )
        console.print(
            _text(f"  remove it with: git worktree remove --force {result.kept_worktree}")
        )
    console.print(verdict(result))


def verdict(result: VerifyResult) -> Text:
    """The last line: bit-exact, within tolerance, or which outputs differ."""
    from rich.text import Text

    bad = [o for o in result.outputs if o.status not in _GOOD]
    tolerated = [o for o in result.outputs if o.status == "within tolerance"]
    if bad:
        head, style = "NOT reproduced:", "bold red"
        rest = (
            f" {len(bad)} of {len(result.outputs)} outputs differ from {result.rev}: "
            + ", ".join(o.path for o in bad)
        )
    elif tolerated:
        head, style = "reproduced within tolerance:", "yellow"
        rest = (
            f" {len(result.outputs) - len(tolerated)} outputs bit-exact, "
            f"{len(tolerated)} within tolerance: " + ", ".join(o.path for o in tolerated)
        )
    else:
        head, style = "bit-exact:", "green"
        rest = f" all {len(result.outputs)} outputs of {result.rev} reproduced exactly"
    return Text.assemble((head, style), _text(rest))


def failure(result: VerifyResult) -> tuple[str, str]:
    """The error and hint for a result that is not ok (the report gives details)."""
    if not result.outputs:
        return (
            f"{result.rev} records no outputs to verify",
            "Run `tether check` there: dvc.lock lists no stage outputs.",
        )
    bad = [o for o in result.outputs if o.status not in _GOOD]
    return (
        f"{len(bad)} of {len(result.outputs)} outputs of {result.rev} were not reproduced",
        f"Inspect the rebuild with `tether verify {shlex.quote(result.rev)} --keep`.",
    )


def _text(value: object, style: str = "") -> Text:
    """Repository content as rich Text: never markup, control characters replaced."""
    from rich.text import Text

    flat = str(value).replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return Text(_CONTROL.sub("?", flat), style=style)


def _short(md5: str | None) -> str:
    return "-" if md5 is None else md5[:12] + ("…" if len(md5) > 12 else "")


def _value(value: object) -> str:
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def _outputs_table(outputs: list[OutputComparison]) -> Table:
    from rich.table import Table

    table = Table(title="outputs", title_justify="left", show_edge=False)
    table.add_column("output", no_wrap=True)
    for column in ("stage", "result", "md5"):
        table.add_column(column, overflow="fold")
    for out in outputs:
        if out.recorded == out.reproduced:
            hashes = _short(out.recorded)
        else:
            hashes = f"{_short(out.recorded)} -> {_short(out.reproduced)}"
        table.add_row(
            _text(out.path),
            _text(out.stage),
            _text(out.status, _STYLES.get(out.status, "bold red")),
            _text(hashes),
        )
    return table


def _difference_lines(outputs: list[OutputComparison]) -> list[str]:
    lines = []
    for out in outputs:
        if out.status in _GOOD:
            continue
        line = (
            f"  {out.path} {out.status}: "
            f"recorded {out.recorded or '-'}, reproduced {out.reproduced or '-'}"
        )
        if out.manifest and out.manifest != out.recorded:
            line += f", release manifest {out.manifest}"
        lines.append(line)
    return lines


def _metrics_tables(result: VerifyResult) -> list[Table]:
    """One table per metrics file."""
    from rich.table import Table

    tables = []
    for file in sorted({m.path for m in result.metrics}):
        title = _text(f"metrics: {file}", "table.title")
        table = Table(title=title, title_justify="left", show_edge=False)
        for column in ("metric", "recorded", "reproduced", "difference", "result"):
            table.add_column(column, overflow="fold")
        for m in (m for m in result.metrics if m.path == file):
            diff = "-" if m.difference is None else f"{m.difference:+.3g}"
            status = m.status + (f" (±{m.tolerance:g})" if m.status == "within tolerance" else "")
            cells = (m.name, _value(m.recorded), _value(m.reproduced), diff, status)
            table.add_row(*(_text(cell) for cell in cells))
        tables.append(table)
    return tables


def _environment_lines(result: VerifyResult) -> list[str]:
    now = result.environment_now
    cpus = now.get("threads", {}).get("cpu_count")
    here = f"Python {now.get('python')} on {now.get('platform')}, {cpus} CPUs"
    if not result.has_manifest:
        return [f"environment: no release manifest to compare with; now {here}"]
    if not result.environment:
        return [f"environment: same as recorded ({here})"]
    return [
        "environment differences (recorded -> now):",
        *(f"  {d.key}: {d.recorded} -> {d.current}" for d in result.environment),
    ]
