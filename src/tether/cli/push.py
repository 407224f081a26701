"""``tether push``: publish the registry's tags and every release's data."""

from __future__ import annotations

from pathlib import Path

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import out, print_json


@app.command(
    "push",
    epilog=(
        "Examples:\n\n  tether push\n\n  tether push --remote upstream --dvc-remote shared --json"
    ),
)
def push_command(
    remote: str = typer.Option(None, "--remote", help="The Git remote (default: origin)."),
    dvc_remote: str = typer.Option(
        None, "--dvc-remote", help="The DVC remote (default: DVC's default remote)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Use this repository."),
) -> None:
    """Publish the registry: every release's DVC data the DVC remote lacks, then every
    registry tag the Git remote lacks (one atomic push).

    Data goes first and is rehashed before upload; if a release's data is in
    neither the local cache nor the DVC remote, no tag is pushed (exit 3). Run it
    after pointing the DVC remote at shared storage to move old releases' data.
    """
    from tether.release.api import push

    done = push(repo_root(repo), remote=remote, dvc_remote=dvc_remote)
    if as_json:
        print_json({
            "git_remote": done.git_remote, "pushed": done.pushed, "present": done.present,
            "remote_only": done.remote_only, "dvc_remote": done.dvc_remote,
            "landed": done.published.landed if done.published else [],
            "releases": [
                {"tag": r.tag, "objects": r.objects, "uploaded": r.uploaded} for r in done.releases
            ],
        })  # fmt: skip
        return
    for release in done.releases:
        there = release.objects - release.uploaded
        out(
            f"{release.tag}: uploaded {release.uploaded} of {release.objects} object(s) to DVC "
            f"remote {done.dvc_remote!r}" + (f" ({there} already there)" if there else "")
        )
    if not done.releases:
        out("No release holds DVC data, so there is no data to push.")
    if done.pushed:
        out(
            f"Pushed {len(done.pushed)} registry tag(s) to {done.git_remote} in one atomic push: "
            + ", ".join(done.pushed)
        )
    else:
        out(f"{done.git_remote} already had every registry tag.")
    if done.present:
        out(f"Already on {done.git_remote}: {len(done.present)} registry tag(s).")
    landed = done.published.landed if done.published else []
    shown = [t for t in done.remote_only if t not in landed]
    if landed:
        out(f"Meanwhile another clone pushed {', '.join(landed)}; fetched now.")
    if shown:
        out(
            f"{done.git_remote} has {len(shown)} registry tag(s) this clone lacks "
            f"({', '.join(shown[:5])}{' ...' if len(shown) > 5 else ''}): "
            f"`git fetch --tags {done.git_remote}` brings them."
        )
