"""``tether env REF [--diff] [--json]`` and ``tether env prune``: the environment a
release recorded, how the current one differs, and the cache of replayed ones."""

from __future__ import annotations

from pathlib import Path

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import out, print_json

PRUNE = "prune"


@app.command(
    "env",
    epilog=(
        "Examples:\n\n"
        "  tether env cancer-classifier@v1.0.0\n\n"
        "  tether env cancer-classifier#prod --diff\n\n"
        "  tether env cancer-classifier@latest --json\n\n"
        "  tether env prune"
    ),
)
def env_command(
    ref: str = typer.Argument(
        ...,
        metavar="REF|prune",
        help="A release (NAME@vX.Y.Z, NAME#STAGE), or `prune` to empty the cache.",
    ),
    diff: bool = typer.Option(
        False, "--diff", help="Show how the running environment differs from the recorded one."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Use this repository."),
) -> None:
    """Show the environment a release recorded: Python, platform tag and every
    distribution at its exact version (the lock `tether verify REF --env` replays).

    With --diff, list what differs in the running environment: Python, platform,
    and each distribution added, removed, changed (other version) or rebuilt (same
    version, other files). `tether env prune` removes every replayed environment
    from the cache. Exit codes: 0 shown (differences are not a failure), 2 not a
    release or a corrupt lock.
    """
    from tether.replay import api, render

    if ref == PRUNE:
        done = api.prune()
        if as_json:
            print_json(
                {
                    "removed": done.removed,
                    "bytes": done.bytes,
                    "cache": done.root,
                    "in_use": done.in_use,
                }
            )
        else:
            for line in render.pruned(done):
                out(line)
        return
    report = api.show(repo_root(repo), ref, diff=diff)
    if as_json:
        print_json(report.to_dict())
        return
    for line in render.env_report(report):
        out(line)
