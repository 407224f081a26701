"""Renderers of a verify result: the terminal report (rich) and JSON.

Paths, stage and metric names, the revision and recorded values all come from the
repository being verified, so they are rich ``Text`` (never parsed as markup) with
control characters replaced: an output named ``[/x]`` or a metric named ``[red]x``
prints as written, and no escape sequence reaches the terminal. Only the fixed words
of the report carry styles.
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path
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
    _print_wide(console, _outputs_table(result.outputs))
    # Full hashes of what differs, one line each, for the reader to search and copy.
    for line in _difference_lines(result.outputs):
        console.print(_text(line))
    for table in _metrics_tables(result):
        console.print(table)
    for line in _environment_lines(result):
        console.print(_text(line))
    for line in numerics_lines(result):
        console.print(_text(line))
    for line in cause_lines(result):
        console.print(_text(line))
    if result.kept_worktree:
        console.print(
            _text(f"kept worktree: {result.kept_worktree} (stage output: {result.stage_log})")
        )
        kept = Path(result.kept_worktree).parent  # the worktree, its log and cache
        console.print(_text(f"  remove it with: rm -rf {kept} && git worktree prune"))
    console.print(verdict(result))


def verdict(result: VerifyResult) -> Text:
    """The last line: bit-exact, within tolerance, or which outputs differ."""
    from rich.text import Text

    bad = [o for o in result.outputs if o.status not in _GOOD]
    tolerated = [o for o in result.outputs if o.status == "within tolerance"]
    if result.equivalent:
        head, style = "equivalent, not bit-exact:", "yellow"
        rest = f" {len(bad)} of {len(result.outputs)} outputs differ, because {result.equivalence.reason}"
    elif bad:
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
    if result.equivalent:
        return (
            f"{result.rev} is equivalent, not bit-exact: {result.equivalence.reason}",
            "Bit-exact needs a CPU that runs the release's numerics profile "
            f"({_profile(result)}); `tether verify {shlex.quote(result.rev)}` there.",
        )
    what = f"{len(bad)} of {len(result.outputs)} outputs of {result.rev} were not reproduced"
    if result.equivalence is not None:
        what += f", nor equivalent ({'; '.join(result.equivalence.failures)})"
    return (what, f"Inspect the rebuild with `tether verify {shlex.quote(result.rev)} --keep`.")


def _profile(result: VerifyResult) -> str:
    found = result.numerics_recorded or result.numerics_now
    return found.profile if found else "recorded"


def _kernels(blas: dict[str, dict[str, Any]]) -> str:
    return ", ".join(
        f"{owner} {info.get('library')} {info.get('kernel')} x{info.get('threads')}"
        for owner, info in sorted(blas.items())
    )


def numerics_lines(result: VerifyResult) -> list[str]:
    """The numerics the release recorded and the ones this rebuild ran."""
    lines = []
    now, then = result.numerics_now, result.numerics_recorded
    where = f" on emulated {result.emulated_cpu}" if result.emulated_cpu else ""
    if then is not None:
        lines.append(
            f"numerics recorded: profile {then.profile}, {_kernels(then.blas) or 'no BLAS'}"
            f" ({then.cpu or 'unknown CPU'})"
        )
    if now is not None:
        ran = f"profile {now.profile}" if not now.lacks else f"native (cannot run {now.profile})"
        lines.append(f"numerics now{where}: {ran}, {_kernels(now.blas) or 'no BLAS'}")
    return lines


def cause_lines(result: VerifyResult) -> list[str]:
    """Why outputs differ, layer by layer; then the second tier's checks."""
    lines = []
    if result.causes:
        lines.append("why the bytes differ:")
        lines += [f"  {c.layer}: {c.detail}" for c in result.causes]
    verdict = result.equivalence
    if verdict is not None:
        lines.append(f"second tier (bits cannot match: {verdict.reason}):")
        lines += [f"  ok: {check}" for check in verdict.checks]
        lines += [f"  FAILED: {failure}" for failure in verdict.failures]
    return lines


def _text(value: object, style: str = "") -> Text:
    """Repository content as rich Text: never markup, control characters replaced."""
    from rich.text import Text

    flat = str(value).replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return Text(_CONTROL.sub("?", flat), style=style)


def _print_wide(console: Console, table: Table) -> None:
    """A table at its full width, never cut or folded to the terminal's; a narrow
    terminal wraps whole lines instead."""
    from rich.console import Console

    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    if natural <= console.width:
        console.print(table)
    else:
        Console(
            width=natural, file=console.file, highlight=False, force_terminal=console.is_terminal
        ).print(table)


def _short(md5: str | None) -> str:
    return "-" if md5 is None else md5  # whole: an md5 is searched for and copied


def _value(value: object) -> str:
    """A value as ``tether diff`` shows it: NaN and infinities spelled out."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf")
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def _difference(value: float | None) -> str:
    if value is None:
        return "-"
    text = _value(value) if not math.isfinite(value) else f"{value:.3g}"
    return text if text.startswith(("-", "NaN")) else f"+{text}"


def _outputs_table(outputs: list[OutputComparison]) -> Table:
    from rich.table import Table

    table = Table(title="outputs", title_justify="left", show_edge=False)
    for column in ("output", "stage", "result", "md5"):
        table.add_column(column, no_wrap=True)
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
            diff = _difference(m.difference)
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
