"""``tether diff`` and ``tether history``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import err, out, print_json, print_table
from tether.errors import CheckFailed, UsageError


@app.command(
    "diff",
    epilog=(
        "Examples:\n\n"
        "  tether diff                      # HEAD against the work tree\n\n"
        "  tether diff v1.0.0 main --md     # a Markdown table for a PR comment\n\n"
        "  tether diff main HEAD --fail-on 'f1<-0.01' --fail-on 'loss>5%'"
    ),
)
def diff_command(
    a: str = typer.Argument("HEAD", metavar="A", help="Old revision (default HEAD)."),
    b: str = typer.Argument(None, metavar="B", help="New revision (default: the work tree)."),
    show_all: bool = typer.Option(False, "--all", "-a", help="Show unchanged rows too."),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON shaped like `dvc metrics/params diff --json`."
    ),
    as_md: bool = typer.Option(False, "--md", help="Print GitHub-flavoured Markdown."),
    fail_on: list[str] = typer.Option(
        None,
        "--fail-on",
        metavar="RULE",
        help="Gate on a metric's change, e.g. 'f1<-0.01' or 'loss>5%'; repeatable. "
        "Replaces the `fail_on` list of [tool.tether] in pyproject.toml.",
    ),
    repo: Path = typer.Option(
        Path("."), "--repo", "-C", metavar="DIR", help="Compare in this repository."
    ),
) -> None:
    """Compare metrics and params between two revisions, side by side.

    A and B are branches, tags, commits or registry references; B defaults to the
    work tree. Everything DVC counts as a metric or param is compared, read from git
    or from the DVC cache. Exits 1 when a gate is breached, and 1 when a metrics or
    params file cannot be read at either revision (never a silently empty table).
    """
    from tether.metrics import render
    from tether.metrics.api import diff, evaluate_gates, load_config

    if as_json and as_md:
        raise UsageError("give --json or --md, not both", "e.g. `tether diff main HEAD --md`")
    root = repo_root(repo)
    config = load_config(root)
    result = diff(root, a, b)
    rules = list(fail_on) if fail_on else list(config.fail_on)
    verdicts = evaluate_gates(result, rules, config.lower_is_better) if rules else []

    if as_json:
        print_json(render.diff_json(result, show_all, verdicts if rules else None))
    elif as_md:
        sys.stdout.write(render.diff_markdown(result, show_all, config.lower_is_better, verdicts))
    else:
        if result.shown(show_all):
            print_table(render.diff_table(result, show_all, config.lower_is_better))
        else:
            out(f"no metrics or params changed between {result.a} and {result.b}")
        for verdict in verdicts:
            out(render.plain(verdict.message))

    result.raise_for_errors()
    breached = [v for v in verdicts if not v.passed]
    if breached:
        raise CheckFailed(
            f"{len(breached)} of {len(verdicts)} gate(s) breached: "
            + "; ".join(render.plain(v.message) for v in breached),
            "Fix what made the metric worse, or, if the change is meant, relax the rule "
            "(--fail-on, or the gates in pyproject.toml) in the same pull request.",
        )


def _say_note(note: str | None) -> None:
    """How history chose its revisions, on stderr: --json, --csv, --md stay data."""
    if note:
        err(note)


@app.command(
    "history",
    epilog=(
        "Examples:\n\n"
        "  tether history                         # every release tag\n\n"
        "  tether history --tags 'exp-*' --sort f1 --desc\n\n"
        "  tether history --last 20 --branch main --metric f1 --param model.name --csv"
    ),
)
def history_command(
    tags: str = typer.Option(None, "--tags", metavar="GLOB", help="Tags matching this glob."),
    last: int = typer.Option(
        None, "--last", "-n", metavar="N", help="The last N commits of --branch."
    ),
    branch: str = typer.Option(
        None, "--branch", "-b", metavar="BRANCH", help="Branch for --last (default HEAD)."
    ),
    metric: list[str] = typer.Option(
        None, "--metric", "-m", metavar="KEY", help="Metric column; repeatable (default: all)."
    ),
    param: list[str] = typer.Option(
        None, "--param", "-p", metavar="KEY", help="Param column; repeatable (default: none)."
    ),
    sort: str = typer.Option(None, "--sort", metavar="COLUMN", help="Sort rows by this column."),
    desc: bool = typer.Option(False, "--desc", help="Sort descending."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    as_md: bool = typer.Option(False, "--md", help="Print GitHub-flavoured Markdown."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    repo: Path = typer.Option(
        Path("."), "--repo", "-C", metavar="DIR", help="Read this repository."
    ),
) -> None:
    """One row per revision with its date, tags, metrics and chosen params.

    Revisions are the release tags (v1.2.3, name@v1.2.3) unless --tags or --last
    chooses others; they are ordered by version, or by position on the branch.
    Exits 1 when a metrics or params file cannot be read at some revision.
    """
    from tether.metrics import render
    from tether.metrics.api import history, load_config

    if sum([as_json, as_md, as_csv]) > 1:
        raise UsageError("give only one of --json, --md, --csv", "e.g. `tether history --csv`")
    if tags is not None and (last is not None or branch is not None):
        raise UsageError(
            "give --tags or --last/--branch, not both",
            "e.g. `tether history --tags 'v*'` or `tether history --last 20 --branch main`",
        )
    root = repo_root(repo)
    hist = history(
        root,
        tags=tags,
        branch=branch,
        last=last,
        metrics=metric or None,
        params=param or None,
        sort=sort,
        descending=desc,
    )
    _say_note(hist.note)
    if as_json:
        print_json(render.history_json(hist))
    elif as_md:
        sys.stdout.write(render.history_markdown(hist))
    elif as_csv:
        sys.stdout.write(render.history_csv(hist))
    else:
        print_table(render.history_table(hist, load_config(root).lower_is_better))
    hist.raise_for_errors()
