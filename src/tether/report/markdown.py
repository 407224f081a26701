"""The report as GitHub-flavoured Markdown, within GitHub's comment limit.

Every string that comes from the repository (file names, keys, values, revision
and artifact names) is data from a branch that may be untrusted: it goes through
``text`` (table cells and prose; the escaping of ``tether diff --md``) or
``mermaid_label`` (chart labels), so it cannot break a table, open HTML, ping
someone with ``@name`` or link an issue with ``#12``.

The body must stay under ``COMMENT_LIMIT`` characters. When it would not, the
params table is cut first, then the metrics table, each with a line saying how
many rows were left out; sections of bounded size (verdict, registry, history)
are never cut.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.metrics.diff import percent
from tether.metrics.render import fmt_value, md_escape
from tether.report.github import COMMENT_LIMIT
from tether.report.model import ArtifactView, Change, Report, Series, Uncharted

# ``tether comment`` adds a marker line of about 30 characters: keep a margin.
MARGIN = 512
CELL_MAX = 200  # characters of one value shown in a table cell
STAGE_DELTAS_MAX = 6
UNCHARTED_NAMED = 12  # names of metrics left out of the history charts, then "and N more"

HEADINGS = {
    "fail": "## :x: tether: {breached} of {total} gate{s} breached",
    "error": "## :warning: tether: metrics could not be read",
    "pass": "## :white_check_mark: tether: all {total} gate{s} hold",
    "none": "## :information_source: tether: no gates configured",
}


# escaping --------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """A value as shown, as ``tether diff`` shows it (NaN and Inf spelled out)."""
    return fmt_value(value)


def text(value: Any, limit: int = CELL_MAX) -> str:
    """Any value as inert Markdown on one line, escaped as ``tether diff --md`` does
    (entities for HTML, punctuation escaped, pings and #refs broken, cut to ``limit``)."""
    return md_escape(value if isinstance(value, str) else fmt_value(value), limit)


def mermaid_label(value: str, limit: int = 40) -> str:
    """A label for a Mermaid chart: plain characters only, so nothing can close
    the quoted string or the code fence."""
    clean = re.sub(r"[^A-Za-z0-9 ._:/+=-]", "_", value)[:limit]
    return clean or "_"


def signed(change: float) -> str:
    if math.isnan(change):
        return "NaN"
    if math.isinf(change):
        return "+Inf" if change > 0 else "-Inf"
    return f"{change:+.6g}"


def change_cell(row: Change) -> str:
    change = row.change
    if change is None:
        return "changed" if fmt(row.old) != fmt(row.new) else ""
    if change == 0:
        return "0"
    out = signed(change)
    if row.relative is not None and not math.isnan(row.relative):
        out += f" ({percent(row.relative)})"
    if row.better is not None:
        out += " better" if row.better else " worse"
    return out


def _size(body: str) -> int:
    """Length as GitHub counts it (UTF-16 code units, the larger of the two counts)."""
    return len(body.encode("utf-16-le")) // 2


# sections ----------------------------------------------------------------------------


def _verdict(report: Report) -> list[str]:
    breached = [g for g in report.gates if not g.passed]
    total = len(report.gates)
    heading = HEADINGS[report.verdict].format(
        breached=len(breached), total=total, s="" if total == 1 else "s"
    )
    lines = [heading, ""]
    for gate in breached + [g for g in report.gates if g.passed]:
        mark = ":x:" if not gate.passed else ":heavy_check_mark:"
        lines.append(f"- {mark} {text(gate.message, 400)}")
    for error in report.errors:
        lines.append(f"- :warning: {text(error, 400)}")
    if report.verdict == "none":
        changed = sum(1 for m in report.metrics if fmt(m.old) != fmt(m.new))
        lines.append(
            f"{changed} of {len(report.metrics)} metric{'s' if len(report.metrics) != 1 else ''} changed. "
            "Gates are read from `fail_on` under `[tool.tether]` in pyproject.toml at the base "
            f"revision ({text(report.base)}), not at the head: gates this pull request adds apply "
            "once it is merged."
        )
    if lines[-1] != "":
        lines.append("")
    base = f"{text(report.base)} ({_short(report.base_commit)})"
    head = f"{text(report.head)} ({'on ' if report.head_is_workspace else ''}{_short(report.head_commit)})"
    lines += [f"Base {base} → head {head}.", ""]
    return lines


def _short(commit: str | None) -> str:
    return commit[:8] if commit and re.fullmatch(r"[0-9a-f]{7,64}", commit) else "workspace"


def _table(
    title: str, columns: list[str], rows: list[list[str]], keep: int | None, what: str
) -> list[str]:
    lines = [f"### {title}", ""]
    if not rows:
        return [*lines, f"No {what} changed.", ""]
    shown = rows if keep is None else rows[:keep]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append(
        "|" + "|".join("---:" if c in ("Base", "Head", "Change") else "---" for c in columns) + "|"
    )
    lines += ["| " + " | ".join(cells) + " |" for cells in shown]
    if len(shown) < len(rows):
        left = len(rows) - len(shown)
        lines += [
            "",
            f"> {left} of {len(rows)} {what} rows are not shown: the comment must stay under "
            f"GitHub's limit of {COMMENT_LIMIT:,} characters. The workflow run's artifacts hold the full report.",
        ]
    return [*lines, ""]


def _metric_rows(report: Report) -> list[list[str]]:
    return [
        [text(m.path), text(m.key), text(m.old), text(m.new), change_cell(m)]
        for m in report.metrics
    ]


def _param_rows(report: Report) -> list[list[str]]:
    return [[text(p.path), text(p.key), text(p.old), text(p.new)] for p in report.params]


def _deltas(deltas: list[Change]) -> str:
    parts = [
        f"{text(d.key)} {signed(d.change)}"
        for d in deltas
        if d.change is not None and d.change != 0
    ]
    if not parts:
        return "no metric differs"
    extra = len(parts) - STAGE_DELTAS_MAX
    shown = ", ".join(parts[:STAGE_DELTAS_MAX])
    return shown + (f" and {extra} more" if extra > 0 else "")


def _registry(artifacts: list[ArtifactView], error: str | None) -> list[str]:
    if error is not None:
        return ["### Registry", "", f"- :warning: {text(error, 600)}", ""]
    if not artifacts:
        return []
    lines = ["### Registry", ""]
    for artifact in artifacts:
        latest = f"latest {text(artifact.latest)}" if artifact.latest else "no version registered"
        lines.append(f"- **{text(artifact.name)}**: {latest}")
        if not artifact.stages:
            lines.append("  - no stage assigned")
        for view in artifact.stages:
            stage, version = text(view.stage), text(view.version)
            if view.error:
                lines.append(
                    f"  - {stage} is {version}; its metrics could not be read: {text(view.error)}"
                )
            else:
                lines.append(
                    f"  - {stage} is {version}; this PR vs {stage}: {_deltas(view.deltas)}"
                )
    return [*lines, ""]


def _chart(series: Series) -> list[str]:
    points = [
        (label, value)
        for label, value in zip(series.labels, series.values, strict=True)
        if value is not None and math.isfinite(value)
    ]
    if len(points) < 2:
        return []
    values = [v for _, v in points]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.01 or 0.001
    labels = ", ".join(f'"{mermaid_label(label)}"' for label, _ in points)
    name = mermaid_label(series.metric)
    return [
        "```mermaid",
        "xychart-beta",
        f'  title "{mermaid_label(series.artifact)}: {name}"',
        f"  x-axis [{labels}]",
        f'  y-axis "{name}" {low - pad:.6g} --> {high + pad:.6g}',
        f"  line [{', '.join(f'{v:.6g}' for v in values)}]",
        "```",
        "",
    ]


def _history(history: list[Series], uncharted: list[Uncharted]) -> list[str]:
    charts = [line for series in history for line in _chart(series)]
    if not charts:
        return []
    releases = max(len(s.labels) - 1 for s in history)
    lines = [
        f"### Metric history (last {releases} release{'s' if releases != 1 else ''} and this PR)",
        "",
    ]
    for left in uncharted:
        total = left.charted + len(left.left_out)
        names = ", ".join(text(n) for n in left.left_out[:UNCHARTED_NAMED])
        more = len(left.left_out) - UNCHARTED_NAMED
        names += f" and {more} more" if more > 0 else ""
        lines += [
            f"{text(left.artifact)}: charted {left.charted} of {total} metrics; left out: {names}.",
            "",
        ]
    return [*lines, *charts]


def _artifacts(url: str | None) -> list[str]:
    lines = ["### Artifacts", ""]
    if url and re.fullmatch(r"https?://[^\s<>()\[\]`]+", url):
        lines.append(f"[Plots (`dvc plots diff`) and the full report of this run]({url})")
    else:
        lines.append("_Plots and the full report: see the workflow run's artifacts._")
    return [*lines, ""]


# the body ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    body: str
    metrics_cut: int  # rows left out
    params_cut: int


def render(report: Report, limit: int = COMMENT_LIMIT - MARGIN) -> Rendered:
    """The Markdown body, tables cut (params first) so it fits in ``limit`` characters."""
    metric_rows, param_rows = _metric_rows(report), _param_rows(report)

    def body(keep_metrics: int | None, keep_params: int | None) -> str:
        lines = _verdict(report)
        lines += _table(
            "Metrics",
            ["File", "Metric", "Base", "Head", "Change"],
            metric_rows,
            keep_metrics,
            "metrics",
        )
        lines += _table(
            "Params", ["File", "Param", "Base", "Head"], param_rows, keep_params, "params"
        )
        lines += _registry(report.artifacts, report.registry_error)
        lines += _history(report.history, report.uncharted)
        lines += _artifacts(report.artifacts_url)
        head = (
            f"workspace on {_short(report.head_commit)}"
            if report.head_is_workspace
            else _short(report.head_commit)
        )
        lines.append(f"<sub>tether report · base {_short(report.base_commit)} · head {head}</sub>")
        return "\n".join(lines) + "\n"

    full = body(None, None)
    if _size(full) <= limit:
        return Rendered(full, 0, 0)
    keep_params = _most(len(param_rows), lambda k: _size(body(None, k)) <= limit)
    if keep_params is not None:
        return Rendered(body(None, keep_params), 0, len(param_rows) - keep_params)
    keep_metrics = _most(len(metric_rows), lambda k: _size(body(k, 0)) <= limit)
    if keep_metrics is not None:
        return Rendered(body(keep_metrics, 0), len(metric_rows) - keep_metrics, len(param_rows))
    # Only the bounded sections are left and they alone are too long: cut the text.
    cut = body(0, 0)
    notice = "\n\n> The report was cut at GitHub's comment limit.\n"
    while _size(cut) + _size(notice) > limit:
        cut = cut[: len(cut) - max(1, (_size(cut) + _size(notice) - limit))]
    return Rendered(cut + notice, len(metric_rows), len(param_rows))


def _most(n: int, fits: Callable[[int], bool]) -> int | None:
    """The largest k in [0, n) with fits(k), or None if not even 0 fits (binary search)."""
    if not fits(0):
        return None
    low, high = 0, n - 1
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low
