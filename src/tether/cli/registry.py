"""``tether release``, ``promote``, ``rollback``, ``unassign``, ``deregister``,
``show``, ``log`` and ``manifest``: the model registry in Git tags."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import out, print_json

if TYPE_CHECKING:
    from tether.release.api import StageChange

REPO_OPTION = typer.Option(Path("."), "--repo", "-C", help="Use this repository.")
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")


def _lines(lines: list[str]) -> None:
    for line in lines:
        out(line)


# --- reading ------------------------------------------------------------------------


@app.command(
    "show",
    epilog=("Examples:\n\n  tether show\n\n  tether show cancer-classifier --json"),
)
def show_command(
    name: str = typer.Argument(None, help="Show only this artifact."),
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Show each artifact's latest version and the version in each stage.

    `tether show --json` prints what `gto show --json` prints, except that stages
    are resolved by the tag counter rather than by tag time. With NAME, only that
    artifact's entry is printed.
    """
    from tether.registry import render, state

    shown = state.show(repo_root(repo), name)
    if as_json:
        sys.stdout.write(render.gto_json(shown.artifacts))
    else:
        _lines(render.show_lines(shown))


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
    from tether.registry import render, state

    events = state.history(repo_root(repo), name)
    if as_json:
        sys.stdout.write(render.log_json(events))
    else:
        _lines(render.log_lines(events))


# --- writing ------------------------------------------------------------------------

PUSH_OPTION = typer.Option(
    False,
    "--push",
    help="Push the tag to the Git remote; if refused, the local tag is deleted again.",
)


class Bump(StrEnum):
    """Which part of the highest version `tether release --bump` raises."""

    major = "major"
    minor = "minor"
    patch = "patch"


@app.command(
    "release",
    epilog=(
        "Examples:\n\n"
        "  tether release cancer-classifier                 # v0.1.0, or a patch bump\n\n"
        "  tether release cancer-classifier --bump minor --push\n\n"
        "  tether release cancer-classifier --version v1.0.0 -m 'First production model'"
    ),
)
def release_command(
    name: str = typer.Argument(..., help="An artifact declared under `artifacts:` in dvc.yaml."),
    version: str = typer.Option(None, "--version", help="The version to create, e.g. v1.2.0."),
    bump: Bump = typer.Option(None, "--bump", help="Bump this part of the highest version."),
    ref: str = typer.Option(
        None, "--ref", help="The commit to release; must be the checked-out one."
    ),
    message: str = typer.Option(None, "--message", "-m", help="The human line of the tag message."),
    push: bool = PUSH_OPTION,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Release a model: an annotated tag NAME@vX.Y.Z with a manifest of its build.

    Refuses, creating no tag, unless the tracked files are all committed,
    `tether check` passes, and every DVC output is pushed to the default DVC
    remote (release pushes them). The first version is v0.1.0; later ones bump
    the patch unless --bump or --version says otherwise.
    """
    from tether.monitor.api import store_profile
    from tether.release import render
    from tether.release.api import Names, release

    names = Names(name, version)  # checked before anything touches git
    done = release(
        repo_root(repo),
        names,
        bump=bump.value if bump is not None else None,
        ref=ref,
        message=message,
        push=push,
        profile=store_profile,
    )
    if as_json:
        print_json(render.released_json(done))
    else:
        _lines(render.released_lines(done))


def _print_change(change: StageChange, as_json: bool) -> None:
    from tether.release import render

    if as_json:
        print_json(render.change_json(change))
    else:
        _lines(render.change_lines(change))


@app.command("promote", epilog="Example:\n\n  tether promote cancer-classifier v0.2.0 prod --push")
def promote_command(
    name: str = typer.Argument(..., help="The artifact."),
    version: str = typer.Argument(..., help="A released version, e.g. v0.2.0."),
    stage: str = typer.Argument(..., help="The stage, e.g. staging or prod."),
    push: bool = PUSH_OPTION,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Put a released version in a stage (tag NAME#STAGE#N)."""
    from tether.release.api import Names, promote

    names = Names(name, version, stage)
    _print_change(promote(repo_root(repo), names, push=push), as_json)


@app.command("rollback", epilog="Example:\n\n  tether rollback cancer-classifier prod")
def rollback_command(
    name: str = typer.Argument(..., help="The artifact."),
    stage: str = typer.Argument(..., help="The stage to roll back."),
    push: bool = PUSH_OPTION,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Put back the version that held a stage before the current one.

    Rolling back again goes further back (v3 -> v2 -> v1), never to a version
    that was rolled back from. Errors if no earlier version held the stage.
    """
    from tether.release.api import Names, rollback

    names = Names(name, stage=stage)
    _print_change(rollback(repo_root(repo), names, push=push), as_json)


@app.command("unassign", epilog="Example:\n\n  tether unassign cancer-classifier staging")
def unassign_command(
    name: str = typer.Argument(..., help="The artifact."),
    stage: str = typer.Argument(..., help="The stage to take from its current version."),
    push: bool = PUSH_OPTION,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Take a stage from the version that holds it (tag NAME#STAGE!#N).

    As in GTO, the stage then falls back to the version assigned to it before,
    if that one was never unassigned; `tether show` says which.
    """
    from tether.release.api import Names, unassign

    names = Names(name, stage=stage)
    _print_change(unassign(repo_root(repo), names, push=push), as_json)


@app.command("deregister", epilog="Example:\n\n  tether deregister cancer-classifier v0.1.0")
def deregister_command(
    name: str = typer.Argument(..., help="The artifact."),
    version: str = typer.Argument(..., help="The version to withdraw."),
    push: bool = PUSH_OPTION,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Withdraw a version (tag NAME@vX.Y.Z!): it leaves `latest` and every stage.

    Each stage it held falls back to the version assigned there before (if that
    one is still live) or is left empty; the output says which. Its release
    manifest stays readable (`tether manifest NAME@vX.Y.Z`).
    """
    from tether.release import render
    from tether.release.api import Names, deregister

    names = Names(name, version)
    done = deregister(repo_root(repo), names, push=push)
    if as_json:
        print_json(render.deregistered_json(done))
    else:
        _lines(render.deregistered_lines(done))


@app.command(
    "manifest",
    epilog="Examples:\n\n  tether manifest cancer-classifier@v0.1.0\n\n  tether manifest cancer-classifier#prod --json",
)
def manifest_command(
    ref: str = typer.Argument(..., help="NAME@vX.Y.Z, NAME@latest or NAME#STAGE."),
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Show what a release was built from: commit, metrics, params, data hashes.

    A deregistered version is shown too, marked with its deregistration tag: it
    left `latest` and every stage, but its manifest still records its build.
    """
    from tether.registry import render
    from tether.revisions import release

    record = release(repo_root(repo), ref).record
    assert record is not None  # a release always has one
    if as_json:
        print_json(render.manifest_json(record))
    else:
        _lines(render.manifest_lines(record))
