"""Renderers of the metrics values: rich tables, GitHub Markdown, JSON, CSV.

Metric names and values come from branches that may be untrusted, so every
renderer treats them as hostile text:

* Markdown: ``|``, backslashes and Markdown punctuation are escaped, newlines and
  control characters flattened, ``<``/``>``/``&`` written as entities (no HTML),
  ``@user`` and ``#123`` broken with a zero-width space so nobody is pinged and
  nothing is cross-linked;
* terminal: values are rich ``Text`` (never parsed as markup) with control
  characters replaced, so no escape sequence reaches the terminal;
* JSON: NaN and infinities become the strings ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"``, so the output is strict JSON;
* CSV: a text cell starting with ``= + - @`` gets a leading ``'`` so spreadsheets
  do not run it as a formula.

``diff_markdown`` and ``verdicts_markdown`` are reused by the PR report.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tether.metrics.diff import METRICS, PARAMS, MetricsDiff, Row, fmt_value
from tether.metrics.gates import Verdict, is_lower_better
from tether.metrics.history import History

if TYPE_CHECKING:
    from rich.table import Table

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()!|~])")
_PING = re.compile(r"([@#])(?=\w)")


# -- values as text -------------------------------------------------------------


def fmt_change(row: Row) -> str:
    change = row.change
    if change is None or isinstance(row.old, bool) or isinstance(row.new, bool):
        return "" if not row.changed else "changed"
    text = fmt_value(change)
    return text if text.startswith("-") or text in ("NaN", "0") else f"+{text}"


def fmt_relative(row: Row) -> str:
    rel = row.relative
    if rel is None or isinstance(row.old, bool):
        return ""
    if math.isnan(rel) or math.isinf(rel):
        return fmt_value(rel)
    return f"{rel * 100:+.3g}%"


def plain(text: str) -> str:
    """One line of text with control characters (and bidi overrides) replaced."""
    return _CONTROL.sub("?", text.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))


def md_escape(text: str, limit: int = 200) -> str:
    """``text`` made safe for one cell of a GitHub Markdown table, cut to ``limit``
    characters so a huge value cannot flood a PR comment."""
    text = plain(str(text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCT.sub(r"\\\1", text)
    text = _PING.sub("\\1&#8203;", text)
    return text


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats replaced by strings, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _direction_style(row: Row, lower_is_better: Iterable[str]) -> str:
    change = row.change
    if row.kind != METRICS or change is None or change == 0 or isinstance(change, bool):
        return ""
    if isinstance(change, float) and math.isnan(change):
        return "yellow"
    better = (change < 0) == is_lower_better(row, tuple(lower_is_better))
    return "green" if better else "red"


# -- diff ---------------------------------------------------------------------------


def diff_table(
    diff: MetricsDiff, show_all: bool = False, lower_is_better: Iterable[str] = ()
) -> Table:
    """The diff as a rich table: metrics first, then params."""
    # rich is imported here, not at module level: --json, --md and --csv never need it.
    from rich.table import Table
    from rich.text import Text

    lower = tuple(lower_is_better)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("Path", "Key"):
        table.add_column(Text(header), overflow="fold")
    for header in (plain(diff.a), plain(diff.b), "Change", "%"):
        table.add_column(Text(header), no_wrap=True, justify="right")
    for kind in (METRICS, PARAMS):
        rows = diff.shown(show_all, kind)
        if not rows:
            continue
        table.add_row(Text(kind, style="bold cyan"), "", "", "", "", "")
        for row in rows:
            style = _direction_style(row, lower)
            table.add_row(
                Text(plain(row.path)),
                Text(plain(row.key)),
                Text(plain(fmt_value(row.old))),
                Text(plain(fmt_value(row.new))),
                Text(fmt_change(row), style=style),
                Text(fmt_relative(row), style=style),
            )
    return table


def diff_markdown(
    diff: MetricsDiff,
    show_all: bool = False,
    lower_is_better: Iterable[str] = (),
    verdicts: list[Verdict] | None = None,
) -> str:
    """The diff as GitHub-flavoured Markdown (tables, then errors and verdicts)."""
    lower = tuple(lower_is_better)
    out: list[str] = []
    for kind, title in ((METRICS, "Metrics"), (PARAMS, "Params")):
        rows = diff.shown(show_all, kind)
        out.append(f"**{title}** ({md_escape(diff.a)} → {md_escape(diff.b)})")
        out.append("")
        if not rows:
            out.append(f"_No {kind} changed._" if not show_all else f"_No {kind}._")
            out.append("")
            continue
        out.append(f"| Path | Key | {md_escape(diff.a)} | {md_escape(diff.b)} | Change | % |")
        out.append("|---|---|--:|--:|--:|--:|")
        for row in rows:
            mark = {"green": " ✅", "red": " 🔻"}.get(_direction_style(row, lower), "")
            cells = [row.path, row.key, fmt_value(row.old), fmt_value(row.new)]
            out.append(
                "| "
                + " | ".join(md_escape(c) for c in cells)
                + f" | {md_escape(fmt_change(row))}{mark} | {md_escape(fmt_relative(row))} |"
            )
        out.append("")
    if diff.failed:
        out.append("**Could not read:**")
        out.append("")
        for rev, errs in diff.errors.items():
            for err in errs:
                out.append(
                    f"- `{md_escape(rev)}` {md_escape(err.path)}: {md_escape(err.message)}. "
                    f"Fix: {md_escape(err.fix)}"
                )
        out.append("")
    if verdicts:
        out.append(verdicts_markdown(verdicts))
    return "\n".join(out).rstrip("\n") + "\n"


def verdicts_markdown(verdicts: list[Verdict]) -> str:
    """Gate verdicts as a Markdown list, failures first."""
    lines = ["**Gates:**", ""]
    for verdict in sorted(verdicts, key=lambda v: v.passed):
        icon = "✅" if verdict.passed else "❌"
        lines.append(f"- {icon} {md_escape(verdict.message)}")
    return "\n".join(lines) + "\n"


def diff_json(
    diff: MetricsDiff, show_all: bool = False, verdicts: list[Verdict] | None = None
) -> Any:
    data = diff.to_dict(show_all)
    if verdicts is not None:
        data["gates"] = [v.to_dict() for v in verdicts]
    return json_safe(data)


# -- history --------------------------------------------------------------------


def history_table(hist: History, lower_is_better: Iterable[str] = ()) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("Revision", "Date", "Tags"):
        table.add_column(Text(header), no_wrap=True)
    for header in hist.columns:
        table.add_column(Text(plain(header)), no_wrap=True, justify="right")
    for row in hist.rows:
        tags = ", ".join(t for t in row.tags if t != row.rev)
        cells = [row.rev, row.date, tags]
        cells += [fmt_value(row.values.get(c)) for c in hist.columns]
        if row.errors:
            cells[0] += " (!)"
        table.add_row(*(Text(plain(c)) for c in cells))
    return table


def history_markdown(hist: History) -> str:
    headers = ["Revision", "Date", "Tags", *(md_escape(c) for c in hist.columns)]
    out = ["| " + " | ".join(headers) + " |"]
    out.append("|---|---|---|" + "--:|" * len(hist.columns))
    for row in hist.rows:
        cells = [md_escape(row.rev), md_escape(row.date), md_escape(", ".join(row.tags))]
        cells += [md_escape(fmt_value(row.values.get(c))) for c in hist.columns]
        out.append("| " + " | ".join(cells) + " |")
    errors = [(r.rev, e) for r in hist.rows for e in r.errors]
    if errors:
        out += ["", "**Could not read:**", ""]
        out += [
            f"- `{md_escape(rev)}` {md_escape(e.path)}: {md_escape(e.message)}" for rev, e in errors
        ]
    return "\n".join(out) + "\n"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (
            fmt_value(value)
            if isinstance(value, float) and not math.isfinite(value)
            else repr(value)
        )
    text = plain(fmt_value(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def history_csv(hist: History) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["revision", "commit", "date", "tags", *hist.columns])
    for row in hist.rows:
        writer.writerow(
            [_csv_cell(row.rev), row.commit, row.date, _csv_cell(" ".join(row.tags))]
            + [_csv_cell(row.values.get(c)) for c in hist.columns]
        )
    return buffer.getvalue()


def history_json(hist: History) -> Any:
    return json_safe(hist.to_dict())
