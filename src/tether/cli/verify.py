"""``tether verify``: rebuild a commit or release from scratch and prove it bit-exact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tether.cli import output
from tether.cli.app import app, repo_root
from tether.cli.output import error, print_json
from tether.errors import EXIT_FAILED, EXIT_INTERRUPTED

if TYPE_CHECKING:
    from rich.console import Console

    from tether.verify import Tolerance, VerifyResult


def _short(md5: str | None) -> str:
    return "-" if md5 is None else md5[:12] + ("…" if len(md5) > 12 else "")


def _value(value: object) -> str:
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def render(result: VerifyResult, console: Console) -> None:
    """The terminal report: outputs, metrics, environment, verdict."""
    from rich.table import Table

    commit = result.commit[:8]
    console.print(f"verify {result.rev} ({commit}), inputs from {result.source}", markup=False)

    outputs = Table(title="outputs", title_justify="left", show_edge=False)
    outputs.add_column("output", no_wrap=True)
    for column in ("stage", "result", "md5"):
        outputs.add_column(column, overflow="fold")
    for out in result.outputs:
        style = {"exact": "green", "within tolerance": "yellow"}.get(out.status, "bold red")
        if out.recorded == out.reproduced:
            hashes = _short(out.recorded)
        else:
            hashes = f"{_short(out.recorded)} -> {_short(out.reproduced)}"
        outputs.add_row(out.path, out.stage, f"[{style}]{out.status}[/]", hashes)
    console.print(outputs)
    # Full hashes of what differs, one line each, for the reader to search and copy.
    for out in result.outputs:
        if out.status not in ("exact", "within tolerance"):
            line = (
                f"  {out.path} {out.status}: "
                f"recorded {out.recorded or '-'}, reproduced {out.reproduced or '-'}"
            )
            if out.manifest and out.manifest != out.recorded:
                line += f", release manifest {out.manifest}"
            console.print(line, markup=False)

    files = sorted({m.path for m in result.metrics})
    for file in files:
        metrics = Table(title=f"metrics: {file}", title_justify="left", show_edge=False)
        for column in ("metric", "recorded", "reproduced", "difference", "result"):
            metrics.add_column(column, overflow="fold")
        for m in (m for m in result.metrics if m.path == file):
            diff = "-" if m.difference is None else f"{m.difference:+.3g}"
            status = m.status + (f" (±{m.tolerance:g})" if m.status == "within tolerance" else "")
            metrics.add_row(m.name, _value(m.recorded), _value(m.reproduced), diff, status)
        console.print(metrics)

    now = result.environment_now
    here = f"Python {now.get('python')} on {now.get('platform')}, {now.get('threads', {}).get('cpu_count')} CPUs"
    if not result.has_manifest:
        console.print(f"environment: no release manifest to compare with; now {here}", markup=False)
    elif not result.environment:
        console.print(f"environment: same as recorded ({here})", markup=False)
    else:
        console.print("environment differences (recorded -> now):", markup=False)
        for d in result.environment:
            console.print(f"  {d.key}: {d.recorded} -> {d.current}", markup=False)

    if result.kept_worktree:
        console.print(
            f"kept worktree: {result.kept_worktree} (stage output: {result.stage_log})",
            markup=False,
        )
        console.print(
            f"  remove it with: git worktree remove --force {result.kept_worktree}", markup=False
        )

    bad = [o for o in result.outputs if o.status not in ("exact", "within tolerance")]
    tolerated = [o for o in result.outputs if o.status == "within tolerance"]
    if bad:
        console.print(
            f"[bold red]NOT reproduced:[/] {len(bad)} of {len(result.outputs)} outputs differ from "
            f"{result.rev}: " + ", ".join(o.path for o in bad)
        )
    elif tolerated:
        console.print(
            f"[yellow]reproduced within tolerance:[/] {len(result.outputs) - len(tolerated)} outputs "
            f"bit-exact, {len(tolerated)} within tolerance: " + ", ".join(o.path for o in tolerated)
        )
    else:
        console.print(
            f"[green]bit-exact:[/] all {len(result.outputs)} outputs of {result.rev} reproduced exactly"
        )


def _progress_console() -> Console:
    """A console on a copy of the stderr descriptor: while stages run, tether points
    descriptors 1 and 2 at the stage log, and progress must still reach the user."""
    from rich.console import Console

    return Console(file=os.fdopen(os.dup(2), "w", encoding="utf-8"), stderr=True, highlight=False)


@app.command(
    "verify",
    epilog=(
        "Examples:\n\n"
        "  tether verify v1.2.0\n\n"
        "  tether verify cancer-classifier@v1.2.0 --from-remote\n\n"
        "  tether verify HEAD~3 --tolerance roc_auc=1e-6 --json"
    ),
)
def verify_command(
    ref: str = typer.Argument(
        ..., metavar="REF", help="Commit, branch, tag or registry reference (NAME@vX.Y.Z)."
    ),
    from_remote: bool = typer.Option(
        False, "--from-remote", help="Take data only from the DVC remote, as on a fresh machine."
    ),
    remote: str = typer.Option(
        None,
        "--remote",
        "-r",
        help="The DVC remote to take data from (implies --from-remote; default: the default remote).",
    ),
    tolerance: list[str] = typer.Option(
        None,
        "--tolerance",
        metavar="METRIC=ABS",
        help=(
            "Accept a metric within ABS of the recorded value (repeatable). METRIC is a "
            "name REF recorded (test.acc) or FILE:METRIC for one metrics file."
        ),
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the temporary worktree for inspection."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Verify in this repository."),
) -> None:
    """Rebuild REF in a clean temporary worktree and compare every output with what
    was recorded (dvc.lock at REF, and the release manifest for releases).

    Every stage runs for real (no run-cache); outputs are hashed from their bytes.
    Exits 0 when every output is bit-exact (or, for metrics named in --tolerance,
    within tolerance), 1 when something differs, 2 for an unknown REF, 3 when data
    cannot be fetched. The worktree is removed afterwards, also on Ctrl-C.
    """
    from tether.verify import parse_tolerance

    tolerances = [parse_tolerance(t) for t in tolerance or []]
    from_remote = from_remote or remote is not None
    root = repo_root(repo)
    progress_console = _progress_console()
    try:
        result = _run_with_progress(
            progress_console, root, ref, from_remote, remote, tolerances, keep
        )
    finally:
        progress_console.file.close()
    if as_json:
        print_json(result.to_dict())
    else:
        render(result, output.console())
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def _run_with_progress(
    console: Console,
    root: Path,
    ref: str,
    from_remote: bool,
    remote: str | None,
    tolerances: list[Tolerance],
    keep: bool,
) -> VerifyResult:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tether.verify import Event, verify

    # Off a terminal (a log, CI, a pipe) there is no bar to draw, and rich would end
    # it by printing an empty line: every error after it would start with one.
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_interactive,
    ) as progress:
        task = progress.add_task(f"verify {ref}: worktree", total=None)

        def on_event(event: Event) -> None:
            if event.kind == "stage" and event.state == "start":
                progress.update(
                    task,
                    total=event.total,
                    completed=event.index - 1,
                    description=f"verify {ref}: stage {event.name}",
                )
            elif event.kind == "stage":
                progress.update(task, completed=event.index)
                console.print(f"  ran {event.name} in {event.seconds:.1f}s", markup=False)
            elif event.state == "start":
                progress.update(task, description=f"verify {ref}: {event.name}")

        try:
            result = verify(
                root,
                ref,
                from_remote=from_remote,
                remote=remote,
                tolerances=tolerances,
                keep=keep,
                on_event=on_event,
            )
        except KeyboardInterrupt:
            # typer turns KeyboardInterrupt into a silent exit 130; say what happened.
            progress.stop()
            what = "kept" if keep else "removed"
            error(f"interrupted; the temporary worktree was {what}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
    return result
