"""``tether verify``: rebuild a commit or release from scratch and prove it bit-exact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tether.cli import output
from tether.cli.app import app, repo_root
from tether.cli.output import print_json
from tether.errors import CheckFailed, Interrupted

if TYPE_CHECKING:
    from rich.console import Console

    from tether.verify import Tolerance, VerifyResult


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
    """Rebuild REF in a clean temporary worktree and prove every output bit-exact.

    Every output is compared with what was recorded: dvc.lock at REF, and the
    release manifest for releases. Every stage runs for real (no run-cache); outputs are hashed from their bytes.
    Exits 0 when every output is bit-exact (or, for metrics named in --tolerance,
    within tolerance), 1 when something differs, 2 for an unknown REF, 3 when data
    cannot be fetched. The worktree is removed afterwards, also on Ctrl-C.
    """
    from tether.verify import parse_tolerance, render

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
        print_json(render.as_json(result))
    else:
        render.terminal(result, output.console())
    if not result.ok:
        raise CheckFailed(*render.failure(result))


def _run_with_progress(
    console: Console,
    root: Path,
    ref: str,
    from_remote: bool,
    remote: str | None,
    tolerances: list[Tolerance],
    keep: bool,
) -> VerifyResult:
    from tether.verify import render, verify

    with render.progress_bar(console) as progress:
        on_event = render.ProgressView(progress, console, ref)
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
            # Say what became of the worktree; main turns this into exit 130.
            progress.stop()
            what = "kept" if keep else "removed"
            raise Interrupted(f"interrupted; the temporary worktree was {what}") from None
    return result
