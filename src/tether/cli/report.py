"""``tether report`` and ``tether comment``: pull-request reports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import out, print_json
from tether.errors import CheckFailed, UsageError

# The body may come from an untrusted artifact: read no more than this. GitHub
# takes 65,536 characters, at most 4 bytes each in UTF-8.
MAX_BODY_BYTES = 1024 * 1024


def _read_body(path: Path) -> str:
    try:
        if str(path) == "-":
            raw = sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
        else:
            with path.open("rb") as handle:
                raw = handle.read(MAX_BODY_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(
            f"body file {path} does not exist", "Write it with `tether report -o FILE`."
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read body file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BODY_BYTES:
        raise UsageError(
            f"body file {path} is larger than {MAX_BODY_BYTES:,} bytes; refusing to post it",
            "`tether report` writes bodies within GitHub's 65,536-character limit.",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"body file {path} is not UTF-8 text") from None


# `tether report`'s options, named here to keep the command short to read.
BASE_OPTION = typer.Option(
    ..., "--base", metavar="REF", help="The revision to compare against (the PR's target)."
)
HEAD_OPTION = typer.Option(
    None, "--head", metavar="REF", help="The revision reported on; default the workspace."
)
OUTPUT_OPTION = typer.Option(
    None,
    "--output",
    "-o",
    metavar="FILE",
    help="Write to this file, not stdout: atomically (a temporary file renamed over it), "
    "creating missing parent directories.",
)
FAIL_ON_OPTION = typer.Option(
    None,
    "--fail-on",
    metavar="RULE",
    help="A gate, e.g. 'f1<-0.01' (repeatable); default fail_on in the base's [tool.tether].",
)
RELEASES_OPTION = typer.Option(
    5, "--releases", min=0, metavar="N", help="Releases in the metric history charts."
)
ARTIFACTS_URL_OPTION = typer.Option(
    None,
    "--artifacts-url",
    metavar="URL",
    help="Link to the workflow run's artifacts (plots, full report).",
)
STRICT_OPTION = typer.Option(
    False,
    "--strict",
    help="Exit 1 once the report is written when a gate is breached or a metric "
    "could not be read (for CI: the report is still written first).",
)


@app.command(
    "report",
    epilog=(
        "Examples:\n\n"
        "  tether report --base main -o report.md\n\n"
        "  tether report --base origin/main --head HEAD --fail-on 'f1<-0.01' --releases 8"
    ),
)
def report_command(
    base: str = BASE_OPTION,
    head: str | None = HEAD_OPTION,
    output: Path | None = OUTPUT_OPTION,
    fail_on: list[str] = FAIL_ON_OPTION,
    releases: int = RELEASES_OPTION,
    artifacts_url: str | None = ARTIFACTS_URL_OPTION,
    strict: bool = STRICT_OPTION,
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Report on this repository."),
) -> None:
    """Write the pull-request report: a Markdown body for `tether comment`.

    The verdict comes first (which gates were breached, or that all hold), then
    the metrics and params diff, which version each registry stage holds and how
    this change compares with it, the metric history of the last releases as
    Mermaid charts (gated metrics, then those that changed, then others, up to
    four unless more are gated; any left out are named), and a link to the run's
    artifacts. Gates come from --fail-on or the base revision's [tool.tether]
    fail_on, never from the head's. Everything read from the
    repository is escaped; the body stays under GitHub's 65,536-character limit,
    cutting table rows with a notice. Exits 0 once written, whatever the verdict,
    unless --strict: then a breached gate or an unreadable metric exits 1, with
    the gates of the base revision (a pull request cannot loosen them).
    """
    from tether.report import render
    from tether.report.api import build_report
    from tether.report.markdown import render as markdown

    if output is not None and output.is_dir():
        raise UsageError(
            f"--output {output} is a directory",
            f"Name the file to write, e.g. -o {output / 'report.md'}",
        )
    report = build_report(
        repo_root(repo),
        base,
        head,
        fail_on=fail_on or (),
        releases=releases,
        artifacts_url=artifacts_url,
    )
    rendered = markdown(report)
    if output is None:
        sys.stdout.write(rendered.body)
    else:
        _write(output, rendered.body)
        out(render.written_line(output, report, rendered))
    failure = render.strict_failure(report) if strict else None
    if failure:
        raise CheckFailed(failure)


# `tether comment`'s options.
PR_OPTION = typer.Option(None, "--pr", min=1, metavar="N", help="The pull-request number.")
BODY_FILE_OPTION = typer.Option(
    ..., "--body-file", metavar="FILE", help="Markdown to post (`-` for standard input)."
)
GITHUB_REPO_OPTION = typer.Option(
    None,
    "--github-repo",
    metavar="OWNER/NAME",
    help="The GitHub repository of the pull request; default $GITHUB_REPOSITORY.",
)
HEAD_SHA_OPTION = typer.Option(
    None,
    "--head-sha",
    metavar="SHA",
    help="Instead of --pr: the open PR whose head is this commit.",
)
HEAD_REPO_OPTION = typer.Option(
    None,
    "--head-repo",
    metavar="OWNER/NAME",
    help="With --head-sha: the repository the head is in.",
)


@app.command(
    "comment",
    epilog=(
        "Examples:\n\n"
        "  tether comment --pr 42 --body-file report.md\n\n"
        "  tether comment --pr 42 --body-file report.md --github-repo acme/churn --json\n\n"
        '  tether comment --head-sha "$SHA" --head-repo fork-owner/churn --body-file report.md'
    ),
)
def comment_command(
    pr: int | None = PR_OPTION,
    body_file: Path = BODY_FILE_OPTION,
    repository: str | None = GITHUB_REPO_OPTION,
    head_sha: str | None = HEAD_SHA_OPTION,
    head_repo: str | None = HEAD_REPO_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Post the report as one pull-request comment, updated in place on later runs.

    The comment carries a hidden marker; tether edits only a marked comment that
    the token's own user wrote, and otherwise creates one. Reads GITHUB_TOKEN,
    GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_GRAPHQL_URL as GitHub Actions
    sets them. Server errors and rate limits are retried; any other refusal
    exits 1 with GitHub's message.

    With --head-sha instead of --pr, the pull request is the open one whose head
    is that commit (a workflow_run event names none for pull requests from forks).
    """
    from tether.report import render
    from tether.report.api import (
        GitHubClient,
        find_pull_request,
        settings_from_env,
        upsert_comment,
    )

    if (pr is None) == (head_sha is None):
        raise UsageError(
            "give either --pr N or --head-sha SHA",
            "e.g. `tether comment --pr 42 --body-file report.md`",
        )
    if head_repo is not None and head_sha is None:
        raise UsageError("--head-repo goes with --head-sha")
    body = _read_body(body_file)
    settings = settings_from_env(os.environ, repository)
    with GitHubClient(settings) as client:
        number = pr if pr is not None else find_pull_request(client, head_sha or "", head_repo)
        result = upsert_comment(client, number, body)
    if as_json:
        print_json(render.comment_json(result))
    else:
        for line in render.comment_lines(result):
            out(line)


def _write(path: Path, body: str) -> None:
    """Write the report as every tether file is written (tether.pipeline.atomic):
    a reader sees the old file or the new one, never half of one."""
    from tether.pipeline.api import write_bytes

    try:
        write_bytes(path, body.encode("utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            "Name a file in a directory you can write to, or leave out -o to print it.",
        ) from None
