"""``tether comment`` (and ``tether report``): pull-request reports."""

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
    pr: int | None = typer.Option(
        None, "--pr", min=1, metavar="N", help="The pull-request number."
    ),
    body_file: Path = typer.Option(
        ..., "--body-file", metavar="FILE", help="Markdown to post (`-` for standard input)."
    ),
    repository: str | None = typer.Option(
        None,
        "--github-repo",
        metavar="OWNER/NAME",
        help="The GitHub repository of the pull request; default $GITHUB_REPOSITORY.",
    ),
    head_sha: str | None = typer.Option(
        None,
        "--head-sha",
        metavar="SHA",
        help="Instead of --pr: the open PR whose head is this commit.",
    ),
    head_repo: str | None = typer.Option(
        None,
        "--head-repo",
        metavar="OWNER/NAME",
        help="With --head-sha: the repository the head is in.",
    ),
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
    from tether.report.github import (
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
        print_json(result.to_dict())
        return
    where = f"{result.repository}#{result.pr}"
    out(f"{result.action} comment {result.comment_id} on {where} as {result.author}")
    if result.url:
        out(result.url)
    if result.skipped_foreign:
        out(f"left alone {result.skipped_foreign} marked comment(s) written by other users")


@app.command(
    "report",
    epilog=(
        "Examples:\n\n"
        "  tether report --base main -o report.md\n\n"
        "  tether report --base origin/main --head HEAD --fail-on 'f1<-0.01' --releases 8"
    ),
)
def report_command(
    base: str = typer.Option(
        ..., "--base", metavar="REF", help="The revision to compare against (the PR's target)."
    ),
    head: str | None = typer.Option(
        None, "--head", metavar="REF", help="The revision reported on; default the workspace."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="Write to this file, not stdout: atomically (a temporary file renamed over it), "
        "creating missing parent directories.",
    ),
    fail_on: list[str] = typer.Option(
        None,
        "--fail-on",
        metavar="RULE",
        help="A gate, e.g. 'f1<-0.01' (repeatable); default fail_on in the base's [tool.tether].",
    ),
    releases: int = typer.Option(
        5, "--releases", min=0, metavar="N", help="Releases in the metric history charts."
    ),
    artifacts_url: str | None = typer.Option(
        None,
        "--artifacts-url",
        metavar="URL",
        help="Link to the workflow run's artifacts (plots, full report).",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Exit 1 once the report is written when a gate is breached or a metric "
        "could not be read (for CI: the report is still written first).",
    ),
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
    from tether.report.build import build_report
    from tether.report.markdown import render

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
    rendered = render(report)
    if output is None:
        sys.stdout.write(rendered.body)
    else:
        _write(output, rendered.body)
        cut = ""
        if rendered.metrics_cut or rendered.params_cut:
            cut = f"; left out {rendered.metrics_cut} metrics and {rendered.params_cut} params rows"
        out(f"wrote {output} ({len(rendered.body):,} characters, verdict {report.verdict}{cut})")
    if strict and report.verdict in ("fail", "error"):
        breached = [g for g in report.gates if not g.passed]
        what = f"{len(breached)} gate(s) breached" if breached else "metrics could not be read"
        raise CheckFailed(f"--strict: {what}; the report says which")


def _write(path: Path, body: str) -> None:
    """Write the report as every tether file is written (tether.pipeline.atomic):
    a reader sees the old file or the new one, never half of one."""
    from tether.pipeline.atomic import write_bytes

    try:
        write_bytes(path, body.encode("utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            "Name a file in a directory you can write to, or leave out -o to print it.",
        ) from None
