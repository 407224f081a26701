"""``tether release``, ``promote``, ``rollback``, ``unassign``, ``deregister``,
``show``, ``log`` and ``manifest``: the model registry in Git tags."""

from __future__ import annotations

import json
import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import out, print_json

REPO_OPTION = typer.Option(Path("."), "--repo", "-C", help="Use this repository.")
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")


def _columns(header: list[str], rows: list[list[str]]) -> None:
    """Aligned plain-text columns: readable in a terminal, greppable in a pipe."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out(line.rstrip())


def _gto_json(data: Any) -> None:
    """JSON laid out byte for byte as GTO prints it (indent 4, ASCII escapes)."""
    sys.stdout.write(json.dumps(data, indent=4) + "\n")


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
    from tether.registry import state
    from tether.registry.tags import validate_name

    if name is not None:
        validate_name(name)
    shown = state.show(repo_root(repo), name)
    data = shown.artifacts
    if as_json:
        _gto_json(data)
        return
    if not data:
        out("The registry is empty. Release a model with `tether release NAME`.")
        return
    stages = shown.stages
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
    events = state.history(repo_root(repo), name)
    if as_json:
        _gto_json([e.to_dict() for e in events])
        return
    if not events:
        out("No registry events.")
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


# --- writing ------------------------------------------------------------------------

PUSH_OPTION = typer.Option(
    False,
    "--push",
    help="Push the tag to the Git remote; if refused, the local tag is deleted again.",
)


def _pushed(remote: str | None) -> str:
    return f" and pushed it to {remote}" if remote else ""


def _publish_hint(tag: str, pushed_to: str | None) -> None:
    """Without --push the tag exists only here: say how to publish it."""
    if pushed_to is None:
        out(
            f"The tag is local only. Next: publish it with `git push origin {shlex.quote(tag)}` "
            "(or pass --push next time)."
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
    from tether.registry.tags import validate_name
    from tether.release.actions import release

    validate_name(name)  # before anything touches git
    done = release(
        repo_root(repo),
        name,
        version=version,
        bump=bump.value if bump is not None else None,
        ref=ref,
        message=message,
        push=push,
    )
    if as_json:
        print_json({
            "artifact": done.artifact, "version": done.version, "tag": done.tag, "commit": done.commit,
            "dvc_remote": done.dvc_remote, "uploaded": done.uploaded, "pushed_to": done.pushed_to,
            "manifest": done.manifest.to_dict(),
        })  # fmt: skip
        return
    out(
        f"released {done.artifact} {done.version}: created tag {done.tag} at {done.commit[:8]}"
        f"{_pushed(done.pushed_to)}"
    )
    out(
        f"DVC outputs are in remote {done.dvc_remote!r} ({done.uploaded} file(s) uploaded now). "
        f"Next: `tether promote {done.artifact} {done.version} STAGE`."
    )
    _publish_hint(done.tag, done.pushed_to)


def _print_change(change: Any, as_json: bool) -> None:
    if as_json:
        print_json({
            "artifact": change.artifact, "stage": change.stage, "version": change.version,
            "tag": change.tag, "commit": change.commit, "previous": change.previous,
            "current": change.current, "pushed_to": change.pushed_to,
        })  # fmt: skip
        return
    now = change.current or "(none)"
    out(
        f"created tag {change.tag}{_pushed(change.pushed_to)}; "
        f"{change.artifact} #{change.stage}: {change.previous or '(none)'} -> {now}"
    )
    _publish_hint(change.tag, change.pushed_to)


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
    from tether.registry.tags import validate_name, validate_stage, validate_version
    from tether.release.actions import promote

    validate_name(name)
    validate_version(version)
    validate_stage(stage)
    _print_change(promote(repo_root(repo), name, version, stage, push=push), as_json)


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
    from tether.registry.tags import validate_name, validate_stage
    from tether.release.actions import rollback

    validate_name(name)
    validate_stage(stage)
    _print_change(rollback(repo_root(repo), name, stage, push=push), as_json)


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
    from tether.registry.tags import validate_name, validate_stage
    from tether.release.actions import unassign

    validate_name(name)
    validate_stage(stage)
    _print_change(unassign(repo_root(repo), name, stage, push=push), as_json)


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
    from tether.registry.tags import validate_name, validate_version
    from tether.release.actions import deregister

    validate_name(name)
    validate_version(version)
    done = deregister(repo_root(repo), name, version, push=push)
    if as_json:
        print_json({
            "artifact": done.artifact, "version": done.version, "tag": done.tag,
            "commit": done.commit, "pushed_to": done.pushed_to, "stages": done.stages,
        })  # fmt: skip
        return
    out(f"created tag {done.tag}{_pushed(done.pushed_to)}; {name} {version} is deregistered")
    if done.stages:
        held = "; ".join(
            f"#{stage} now holds {holder}" if holder else f"#{stage} is now empty"
            for stage, holder in done.stages.items()
        )
        out(f"It held {', '.join(f'#{s}' for s in done.stages)}: {held}.")
    else:
        out("It held no stage.")
    _publish_hint(done.tag, done.pushed_to)


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
    from tether.registry.manifest import lookup

    record = lookup(repo_root(repo), ref)
    m = record.manifest
    if as_json:
        print_json({
            "tag": record.tag, "summary": record.summary,
            "deregistered": record.deregistered, **m.to_dict(),
        })  # fmt: skip
        return
    rows = [
        ["tag", record.tag],
        ["summary", record.summary],
        *([["deregistered", f"yes, by tag {record.deregistered}"]] if record.deregistered else []),
        ["artifact", f"{m.artifact} {m.version} ({m.path})"],
        ["commit", m.commit],
        ["dvc.lock sha256", m.dvc_lock_sha256],
        ["overrides", " ".join(m.overrides) or "(none)"],
        ["python", m.python],
        *([["platform", m.platform]] if m.platform else []),
        ["packages", ", ".join(f"{k} {v}" for k, v in m.packages.items())],
    ]
    for path, values in m.metrics.items():
        flat = values.items() if isinstance(values, dict) else [("value", values)]
        rows.extend([f"metric {path}:{k}", str(v)] for k, v in flat)
    for path, values in m.params.items():
        rows.extend([f"param {path}:{k}", str(v)] for k, v in values.items())
    rows.extend([f"out {path}", md5] for path, md5 in m.outs.items())
    rows.extend([f"dep {path}", md5] for path, md5 in m.deps.items())
    _columns(["field", "value"], rows)
