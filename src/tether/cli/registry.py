"""``tether release``, ``promote``, ``rollback``, ``unassign``, ``deregister``,
``show``, ``log`` and ``manifest``: the model registry in Git tags."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from tether.cli import app
from tether.cli.output import stdout

REPO_OPTION = typer.Option(Path("."), "--repo", "-C", help="Use this repository.")
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")


def _root(path: Path) -> Path:
    from tether.backends.git import find_root

    return find_root(path)


def _columns(header: list[str], rows: list[list[str]]) -> None:
    """Aligned plain-text columns: readable in a terminal, greppable in a pipe."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        stdout.print(line.rstrip(), markup=False, highlight=False)


def _gto_json(data: Any) -> None:
    """JSON laid out byte for byte as GTO prints it (indent 4, ASCII escapes)."""
    sys.stdout.write(json.dumps(data, indent=4) + "\n")


# --- reading ------------------------------------------------------------------------


@app.command(
    "show",
    epilog=(
        "Examples:\n\n"
        "  tether show\n\n"
        "  tether show cancer-classifier --json"
    ),
)
def show_command(
    name: str = typer.Argument(None, help="Show only this artifact."),
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Show each artifact's latest version and the version in each stage.

    `tether show --json` prints what `gto show --json` prints, except that stages
    are resolved by the tag counter rather than by tag time.
    """
    from tether.registry import state
    from tether.registry.tags import validate_name

    if name is not None:
        validate_name(name)
    registry = state.load(_root(repo))
    if name is not None and registry.find(name) is None:
        from tether.errors import UsageError

        raise UsageError(f"no artifact {name!r} in the registry", "Run `tether show` to list them.")
    data = state.show_dict(registry, name)
    if as_json:
        _gto_json(data)
        return
    if not data:
        stdout.print("The registry is empty. Release a model with `tether release NAME`.", markup=False)
        return
    stages = registry.used_stages()
    _columns(
        ["artifact", "latest", *[f"#{s}" for s in stages]],
        [
            [artifact, info["version"] or "-", *[info["stage"][s] or "-" for s in stages]]
            for artifact, info in data.items()
        ],
    )


@app.command(
    "log",
    epilog="Examples:\n\n  tether log\n\n  tether log cancer-classifier --json",
)
def log_command(
    name: str = typer.Argument(None, help="Show only this artifact's events."),
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Every registry event, newest first (fields of `gto history --json`)."""
    from tether.registry import state
    from tether.registry.tags import validate_name

    if name is not None:
        validate_name(name)
    events = state.load(_root(repo)).events(name)
    if as_json:
        _gto_json([e.to_dict() for e in events])
        return
    if not events:
        stdout.print("No registry events.", markup=False)
        return
    _columns(
        ["time", "artifact", "event", "version", "stage", "commit", "tag"],
        [
            [
                e.timestamp.strftime("%Y-%m-%d %H:%M:%S %z"),
                e.artifact,
                e.action.value,
                e.version[:7] if len(e.version) == 40 else e.version,
                e.stage or "-",
                e.commit[:7],
                e.tag,
            ]
            for e in events
        ],
    )
