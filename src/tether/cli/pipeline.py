"""``tether run`` and ``tether check``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import err, out, print_json
from tether.errors import EXIT_FAILED

if TYPE_CHECKING:
    from tether.pipeline.check import Problem


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
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Run in this repository."),
) -> None:
    """Compose conf/ into params.yaml, record the overrides, reproduce the pipeline.

    Overrides given replace the recorded ones; with none, the recorded ones are
    reused. params.yaml and .tether/overrides.yaml are only written once the
    composition succeeded.
    """
    from tether.pipeline.run import StageEvent, run

    if reset and overrides:
        raise typer.BadParameter("give overrides or --reset, not both")

    def progress(event: StageEvent) -> None:
        counter = f"[{event.index}/{event.total}]"
        if event.state == "start":
            err(f"{counter} {event.stage} ...")
        elif event.state == "ran":
            err(f"{counter} {event.stage} ran in {event.seconds:.1f}s")
        else:
            err(f"{counter} {event.stage} up to date")

    root = repo_root(repo)
    result = run(root, overrides or [], reset=reset, force=force, on_stage=progress)
    shown = " ".join(result.overrides) if result.overrides else "(none)"
    out(f"overrides: {shown}")
    ran = sum(1 for s in result.stages if s.state == "ran")
    if ran == 0 and not result.params_changed:
        out(f"Everything is up to date: no stage of {len(result.stages)} needed to run.")
    else:
        out(
            f"params.yaml {'updated' if result.params_changed else 'unchanged'}; "
            f"{ran} of {len(result.stages)} stages ran. "
            "Next: `tether check`, then commit what it lists."
        )


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
    from tether.pipeline.check import check

    result = check(repo_root(repo))
    if as_json:
        print_json(result.to_dict())
    elif result.reproducible:
        commit = (result.commit or "")[:8] or "(no commit)"
        out(f"reproducible: the workspace matches commit {commit} exactly")
    else:
        for line in render_problems(result.problems):
            out(line)
    if not result.reproducible:
        raise typer.Exit(EXIT_FAILED)


def render_problems(problems: list[Problem]) -> list[str]:
    """The problems as text: files to commit are gathered into one problem with one
    ``git add`` command; the others are listed each with its own fix."""
    uncommitted = [p for p in problems if p.kind == "uncommitted" and p.subject != "HEAD"]
    others = [p for p in problems if p not in uncommitted]
    count = len(others) + (1 if uncommitted else 0)
    lines = [f"not reproducible: {count} problem(s)"]
    for problem in others:
        lines += [f"  - {problem.message}", f"    fix: {problem.fix}"]
    if uncommitted:
        paths = [p.subject for p in uncommitted]
        lines.append(f"  - {len(paths)} file(s) that stages use or write are not committed:")
        lines += [f"      {p.message}" for p in uncommitted]
        lines.append(f"    fix: git add {' '.join(paths)} && git commit")
    return lines
