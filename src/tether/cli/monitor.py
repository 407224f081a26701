"""``tether monitor drift`` and ``tether monitor perf``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import out, print_json, print_table
from tether.errors import CheckFailed

monitor_app = typer.Typer(
    name="monitor",
    help=(
        "Monitor a release: data drift against its own training data, and performance "
        "on new labelled batches."
    ),
    epilog=(
        "Examples:\n\n"
        "  tether monitor drift cancer-classifier#prod batch.csv --html drift.html\n\n"
        "  tether monitor perf cancer-classifier#prod labelled.csv --fail-on 'f1<-0.05'"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(monitor_app, name="monitor")

REPO = typer.Option(Path("."), "--repo", "-C", metavar="DIR", help="Use this repository.")


def _write_html(path: Path, text: str) -> None:
    """Write the report atomically, readable as any new file is (the temporary file
    it is renamed from is private)."""
    from tether.pipeline.api import write_bytes

    write_bytes(path, text.encode("utf-8"))
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)


@monitor_app.command(
    "drift",
    epilog=(
        "Examples:\n\n"
        "  tether monitor drift cancer-classifier#prod batch.csv\n\n"
        "  tether monitor drift cancer-classifier@v1.2.0 batch.csv --html drift.html "
        "--fail-on-drift\n\n"
        "  tether monitor drift cancer-classifier@latest batch.csv --exact --json"
    ),
)
def drift_command(
    ref: str = typer.Argument(
        ..., metavar="REF", help="A release: NAME@vX.Y.Z, NAME@latest, NAME#STAGE."
    ),
    data: Path = typer.Argument(..., metavar="DATA.csv", help="The batch to compare (CSV)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    html: Path = typer.Option(None, "--html", metavar="FILE", help="Write the HTML report here."),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help="Exit 1 when the dataset drifts."
    ),
    exact: bool = typer.Option(
        False,
        "--exact",
        help="Test against the training rows (fetched by md5) instead of the stored profile.",
    ),
    repo: Path = REPO,
) -> None:
    """Compare a batch with the release's training data, column by column.

    Each column (and the model's predictions) gets Evidently's default test for its
    kind and the reference size; the dataset drifts when at least `drift_share` of
    the columns drift ([tool.tether.monitor], default 0.5). Exit 1 with
    --fail-on-drift when it does; 2 for a batch that cannot be read.
    """
    from tether.monitor import render
    from tether.monitor.api import drift

    report = drift(repo_root(repo), ref, data, exact=exact)
    if html is not None:
        _write_html(html, render.drift_html(report))
    if as_json:
        print_json(report.to_dict())
    else:
        print_table(render.drift_table(report))
        for line in render.drift_lines(report):
            out(line)
        if html is not None:
            out(f"HTML report: {html}")
    if fail_on_drift and report.dataset_drift:
        raise CheckFailed(report.verdict)


def _say_perf(report: Any, html: Path | None) -> None:
    """The terminal form of a perf report."""
    from tether.monitor import render

    out(
        f"{report.release} ({report.ref}) on {report.rows} labelled rows, "
        f"threshold {report.threshold:g}"
    )
    print_table(render.perf_table(report))
    if report.chunks:
        out(f"per chunk ({report.chunked_by}):")
        print_table(render.chunk_table(report))
    for verdict in report.verdicts:
        out(verdict.message)
    for line in report.skipped:
        out(line)
    out(report.drift.verdict)
    out(report.verdict)
    if html is not None:
        out(f"HTML report: {html}")


@monitor_app.command(
    "perf",
    epilog=(
        "Examples:\n\n"
        "  tether monitor perf cancer-classifier#prod labelled.csv --fail-on 'f1<-0.05'\n\n"
        "  tether monitor perf cancer-classifier@latest week.csv --by date --html perf.html\n\n"
        "  tether monitor perf cancer-classifier@latest batch.csv --chunk 500 --json"
    ),
)
def perf_command(
    ref: str = typer.Argument(
        ..., metavar="REF", help="A release: NAME@vX.Y.Z, NAME@latest, NAME#STAGE."
    ),
    batch: Path = typer.Argument(..., metavar="BATCH.csv", help="A labelled batch (CSV)."),
    target: str = typer.Option(
        None, "--target", metavar="COL", help="The label column (default: the release's target)."
    ),
    fail_on: list[str] = typer.Option(
        None,
        "--fail-on",
        metavar="RULE",
        help="Gate on a metric's change from the recorded value, as `tether diff --fail-on`; "
        "repeatable. Default: `fail_on` of [tool.tether].",
    ),
    chunk: int = typer.Option(None, "--chunk", metavar="N", help="Chunks of N rows."),
    by: str = typer.Option(None, "--by", metavar="COLUMN", help="One chunk per value of COLUMN."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    html: Path = typer.Option(None, "--html", metavar="FILE", help="Write the HTML report here."),
    repo: Path = REPO,
) -> None:
    """Score a labelled batch with the release's model and compare its metrics with
    the ones the release recorded.

    The model's bytes are checked against the manifest's md5 before it is loaded.
    Gates use the rules of `tether diff --fail-on` and exit 1 when breached; with
    --chunk or --by, metrics and drift are shown per chunk too.
    """
    from tether.monitor import render
    from tether.monitor.api import perf

    if chunk is not None and by is not None:
        raise typer.BadParameter("give --chunk or --by, not both")
    report = perf(
        repo_root(repo), ref, batch, target=target, rules=fail_on or None, chunk=chunk, by=by
    )
    if html is not None:
        _write_html(html, render.perf_html(report))
    if as_json:
        print_json(report.to_dict())
    else:
        _say_perf(report, html)
    if report.breached:
        raise CheckFailed(
            f"{len(report.breached)} of {len(report.verdicts)} gate(s) breached: "
            + "; ".join(v.message for v in report.breached),
            "See which columns or chunks moved (`--html FILE` draws them); retrain on "
            "newer data with `tether run`, or release and promote a better version.",
        )
