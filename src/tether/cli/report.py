"""``tether comment`` (and ``tether report``): pull-request reports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from tether.cli import app
from tether.cli.output import print_json, stdout
from tether.errors import UsageError


def _read_body(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"body file {path} does not exist", "Write it with `tether report -o FILE`.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read body file {path}: {exc}") from None


@app.command(
    "comment",
    epilog=(
        "Examples:\n\n"
        "  tether comment --pr 42 --body-file report.md\n\n"
        "  tether comment --pr 42 --body-file report.md --repo acme/churn --json"
    ),
)
def comment_command(
    pr: int = typer.Option(..., "--pr", min=1, metavar="N", help="The pull-request number."),
    body_file: Path = typer.Option(
        ..., "--body-file", metavar="FILE", help="Markdown to post (`-` for standard input)."
    ),
    repository: str | None = typer.Option(
        None, "--repo", metavar="OWNER/NAME", help="The repository; default $GITHUB_REPOSITORY."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Post the report as one pull-request comment, updated in place on later runs.

    The comment carries a hidden marker; tether edits only a marked comment that
    the token's own user wrote, and otherwise creates one. Reads GITHUB_TOKEN,
    GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_GRAPHQL_URL as GitHub Actions
    sets them. Server errors and rate limits are retried; any other refusal
    exits 1 with GitHub's message.
    """
    from tether.report.github import GitHubClient, settings_from_env, upsert_comment

    body = _read_body(body_file)
    settings = settings_from_env(os.environ, repository)
    with GitHubClient(settings) as client:
        result = upsert_comment(client, pr, body)
    if as_json:
        print_json(result.to_dict())
        return
    where = f"{result.repository}#{result.pr}"
    stdout.print(f"{result.action} comment {result.comment_id} on {where} as {result.author}", markup=False)
    if result.url:
        stdout.print(result.url, markup=False)
    if result.skipped_foreign:
        stdout.print(
            f"left alone {result.skipped_foreign} marked comment(s) written by other users",
            markup=False,
        )
