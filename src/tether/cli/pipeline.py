"""``tether run`` and ``tether check``."""

from __future__ import annotations

from pathlib import Path

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import err, out, print_json
from tether.errors import CheckFailed, UsageError


@app.command(
    "run",
    epilog=(
        "Examples:\n\n"
        "  tether run model=random_forest model.params.n_estimators=300\n\n"
        "  tether run            # reuse the recorded overrides\n\n"
        "  tether run --reset    # back to conf/ defaults"
    ),
)
def run_command(
    overrides: list[str] = typer.Argument(
        None, metavar="[OVERRIDE]...", help="Hydra overrides: group=option, key=value, +new=value."
    ),
    reset: bool = typer.Option(False, "--reset", help="Clear the recorded overrides."),
    force: bool = typer.Option(False, "--force", "-f", help="Run every stage even if up to date."),
    wait: bool = typer.Option(
        False, "--wait", help="If another run holds this workspace, wait for it instead of failing."
    ),
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Run in this repository."),
) -> None:
    """Compose conf/ into params.yaml, record the overrides, reproduce the pipeline.

    Overrides given replace the recorded ones; with none, the recorded ones are
    reused. params.yaml and .tether/overrides.yaml are only written once the
    composition succeeded. One run at a time per workspace: a second one stops
    at once, naming the first one's PID (or waits with --wait). Ctrl-C or SIGTERM
    stops the running stage command too (exit 130 or 143). A stage whose params
    changed only their type (C: 1.0 to C: 1), which DVC calls unchanged, is run
    forced. A stage whose own command fails exits 4; DVC, git or a remote failing, 3.
    """
    from tether.pipeline import render
    from tether.pipeline.api import StageEvent, run

    if reset and overrides:
        raise UsageError(
            "give overrides or --reset, not both",
            "`tether run --reset` goes back to conf/ defaults; `tether run KEY=VALUE` replaces them.",
        )

    def progress(event: StageEvent) -> None:
        err(render.stage_line(event))

    result = run(
        repo_root(repo),
        overrides or [],
        reset=reset,
        force=force,
        on_stage=progress,
        wait=wait,
        on_wait=lambda pid: err(f"waiting for the `tether run` in progress (PID {pid}) ..."),
    )
    for line in render.run_lines(result):
        out(line)


@app.command("check", epilog="Example:\n\n  tether check --json")
def check_command(
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Check this repository."),
) -> None:
    """Say whether this workspace reproduces exactly from what Git holds.

    Exits 1 naming each problem and the command that fixes it: params.yaml not
    composed from conf/, stages out of date, outputs whose bytes differ from
    dvc.lock, or uncommitted files that stages depend on.
    """
    from tether.pipeline import render
    from tether.pipeline.api import check

    result = check(repo_root(repo))
    if as_json:
        print_json(render.check_json(result))
    else:
        for line in render.check_lines(result):
            out(line)
    if not result.reproducible:
        raise CheckFailed(*render.check_failure(result))
