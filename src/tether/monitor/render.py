"""Renderers of the monitoring values: a terminal table, JSON, and one HTML file.

The HTML report is self-contained: inline CSS and inline SVG drawn here, no
script, no font, no network. It puts the verdict first, then the score table,
then one reference-against-current plot per column, then (for a chunked
``perf``) the trend per chunk. Numbers are rounded for display only.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from tether.monitor.drift import ColumnDrift, DriftReport, Plot
from tether.monitor.perf import Chunk, PerfReport

if TYPE_CHECKING:
    from rich.table import Table

REFERENCE_COLOUR = "#4c72b0"
CURRENT_COLOUR = "#dd8452"
DRIFT_COLOUR = "#c0392b"
OK_COLOUR = "#2e7d32"


def fmt_score(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    if value != 0 and abs(value) < 1e-4:
        return f"{value:.2e}"
    return f"{value:.4f}"


# --- terminal -------------------------------------------------------------------------


def drift_table(report: DriftReport) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=None, show_edge=False, pad_edge=False)
    for name in ("column", "kind", "test", "score", "threshold", "drifted", "status"):
        table.add_column(name, justify="right" if name in ("score", "threshold") else "left")
    for col in report.columns:
        drifted = Text("yes", style="bold red") if col.drifted else Text("no")
        status = col.status + (f": {col.note}" if col.note else "")
        table.add_row(
            Text(col.column + (" (target)" if col.role == "target" else "")),
            col.kind,
            col.test or "-",
            fmt_score(col.score) + ("~" if col.approximate else ""),
            fmt_score(col.threshold),
            drifted if col.counted else Text("-"),
            Text(status),
        )
    return table


def drift_lines(report: DriftReport) -> list[str]:
    lines = [
        f"{report.release} ({report.ref}): {report.current_rows} rows against "
        f"{report.reference_rows} training rows ({_origin(report.origin)})"
    ]
    if report.extra:
        lines.append(f"extra columns not in training (not tested): {', '.join(report.extra)}")
    if any(c.approximate for c in report.columns):
        lines.append("~ computed from the profile's quantiles; --exact tests the training rows")
    lines.append(report.verdict)
    if report.caution:
        lines.append(report.caution)
    return lines


def _origin(origin: str) -> str:
    return {
        "stored": "the release's stored profile",
        "rebuilt": "profile rebuilt from the training data",
        "raw": "the training rows, exact",
    }.get(origin, origin or "in-memory reference")


def perf_table(report: PerfReport) -> Table:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for name in ("metric", "recorded", "batch", "change"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for metric in report.metrics:
        table.add_row(
            metric.name,
            fmt_score(metric.recorded),
            fmt_score(metric.value) if metric.value is not None else metric.note,
            fmt_score(metric.change) if metric.change is not None else "-",
        )
    return table


def _chunk_gates(chunk: Chunk) -> str:
    """A chunk's gates in a cell: what it breaches, or ok, and what it could not judge."""
    shown = "FAIL " + ", ".join(chunk.breached) if chunk.breached else "ok"
    if chunk.skipped:
        shown += f" (not judged, metric undefined: {', '.join(chunk.skipped)})"
    return shown


def chunk_table(report: PerfReport) -> Table:
    from rich.table import Table

    names = [m.name for m in report.metrics]
    table = Table(show_edge=False, pad_edge=False)
    for name in ["chunk", "rows", *names, "drifted", "gates"]:
        table.add_column(name, justify="left" if name in ("chunk", "gates") else "right")
    for chunk in report.chunks:
        table.add_row(
            chunk.label,
            str(chunk.rows),
            *(fmt_score(chunk.metrics.get(n)) for n in names),
            f"{len(chunk.drifted)}/{chunk.tested}" + (" DRIFT" if chunk.dataset_drift else ""),
            _chunk_gates(chunk),
        )
    return table


# --- HTML -------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.verdict{padding:12px 16px;border-radius:6px;font-size:18px;font-weight:600;margin:12px 0;color:#fff}
.bad{background:#c0392b}.good{background:#2e7d32}
.meta{color:#555;font-size:13px}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drift td{color:#c0392b;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px;width:300px}
.card h3{font-size:13px;margin:0 0 4px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.card.drift{border-color:#c0392b}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def bars_svg(plot: Plot, width: int = 284, height: int = 110) -> str:
    """Reference and current shares side by side per bin or category."""
    n = len(plot.labels)
    top = max([*plot.reference, *plot.current, 1e-12])
    inner_h = height - 22
    slot = width / max(n, 1)
    bar = max(slot / 2 - 0.6, 0.6)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<rect x="0" y="0" width="{width}" height="{inner_h}" fill="#fafafa"/>',
    ]
    for i in range(n):
        for j, (values, colour) in enumerate(
            ((plot.reference, REFERENCE_COLOUR), (plot.current, CURRENT_COLOUR))
        ):
            h = values[i] / top * (inner_h - 4)
            if h <= 0:
                continue
            x = i * slot + j * (bar + 0.4) + 0.3
            parts.append(
                f'<rect x="{x:.1f}" y="{inner_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{_e(plot.labels[i])}: {values[i]:.3f}</title></rect>'
            )
    first, last = (
        plot.labels[0],
        (f"{plot.edges[-1]:.4g}" if plot.edges else plot.labels[-1] if n > 1 else ""),
    )
    parts.append(
        f'<text x="0" y="{height - 6}" font-size="10" fill="#555">{_e(first[:18])}</text>'
        f'<text x="{width}" y="{height - 6}" font-size="10" fill="#555" text-anchor="end">'
        f"{_e(str(last)[:18])}</text></svg>"
    )
    return "".join(parts)


def lines_svg(
    series: dict[str, list[float | None]], labels: list[str], width: int = 600, height: int = 180
) -> str:
    """One line per series over the chunks, on a shared 0..max scale."""
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    top = max([*values, 1e-12])
    lo = min([*values, 0.0])
    left, bottom = 36, 24
    inner_w, inner_h = width - left - 8, height - bottom - 8
    palette = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
    n = max(len(labels), 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (i * inner_w / (n - 1) if n > 1 else inner_w / 2)
        y = 8 + inner_h - (v - lo) / ((top - lo) or 1) * inner_h
        return x, y

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<rect x="{left}" y="8" width="{inner_w}" height="{inner_h}" fill="#fafafa"/>',
        f'<text x="2" y="14" font-size="10" fill="#555">{top:.3g}</text>',
        f'<text x="2" y="{8 + inner_h}" font-size="10" fill="#555">{lo:.3g}</text>',
    ]
    for k, (name, vs) in enumerate(series.items()):
        colour = palette[k % len(palette)]
        points = [xy(i, v) for i, v in enumerate(vs) if v is not None and math.isfinite(v)]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            for x, y in points:
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        parts.append(
            f'<text x="{left + 4 + 90 * k}" y="{height - 6}" font-size="11" fill="{colour}">'
            f"{_e(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _score_rows(columns: list[ColumnDrift]) -> str:
    rows = []
    for col in columns:
        cls = ' class="drift"' if col.drifted and col.counted else ""
        rows.append(
            f"<tr{cls}><td>{_e(col.column)}</td><td>{_e(col.role)}</td><td>{_e(col.kind)}</td>"
            f"<td>{_e(col.test_display or col.test or '-')}</td>"
            f'<td class="num">{_e(fmt_score(col.score))}{"~" if col.approximate else ""}</td>'
            f'<td class="num">{_e(fmt_score(col.threshold))}</td>'
            f"<td>{'yes' if col.drifted and col.counted else ('-' if not col.counted else 'no')}</td>"
            f"<td>{_e(col.status)}{(': ' + _e(col.note)) if col.note else ''}</td></tr>"
        )
    return (
        "<table><thead><tr><th>column</th><th>role</th><th>kind</th><th>test</th><th>score</th>"
        "<th>threshold</th><th>drifted</th><th>status</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _cards(columns: list[ColumnDrift]) -> str:
    cards = []
    for col in columns:
        if col.plot is None:
            continue
        cls = "card drift" if col.drifted else "card"
        cards.append(
            f'<div class="{cls}"><h3 title="{_e(col.column)}">{_e(col.column)}'
            f" — {_e(fmt_score(col.score))}{' drift' if col.drifted else ''}</h3>"
            f"{bars_svg(col.plot)}</div>"
        )
    legend = (
        f'<p class="legend"><span style="background:{REFERENCE_COLOUR}"></span>training '
        f'(reference)<span style="background:{CURRENT_COLOUR}"></span>batch (current)</p>'
    )
    return legend + '<div class="grid">' + "".join(cards) + "</div>"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def drift_html(report: DriftReport, perf: PerfReport | None = None) -> str:
    bad = report.dataset_drift
    parts = [
        f"<h1>tether monitor: {_e(report.release or 'reference')}</h1>",
        f'<p class="meta">{_e(report.ref)} · {report.current_rows} batch rows against '
        f"{report.reference_rows} training rows ({_e(_origin(report.origin))})</p>",
    ]
    if perf is not None:
        perf_bad = bool(perf.breached)
        parts.append(
            f'<div class="verdict {"bad" if perf_bad else "good"}" id="verdict">{_e(perf.verdict)}</div>'
        )
        for line in [*(v.message for v in perf.verdicts), *perf.skipped]:
            parts.append(f"<p>{_e(line)}</p>")
    anchor = "" if perf is not None else ' id="verdict"'
    parts.append(
        f'<div class="verdict {"bad" if bad else "good"}"{anchor}>{_e(report.verdict)}</div>'
    )
    if report.caution:
        parts.append(f"<p>{_e(report.caution)}</p>")
    if report.extra:
        parts.append(f"<p>Extra columns, not tested: {_e(', '.join(report.extra))}</p>")
    if perf is not None:
        parts.append("<h2>Metrics</h2><table><thead><tr><th>metric</th><th>recorded</th>")
        parts.append("<th>batch</th><th>change</th></tr></thead><tbody>")
        for m in perf.metrics:
            parts.append(
                f"<tr><td>{_e(m.name)}</td><td class='num'>{_e(fmt_score(m.recorded))}</td>"
                f"<td class='num'>{_e(fmt_score(m.value) if m.value is not None else m.note)}</td>"
                f"<td class='num'>{_e(fmt_score(m.change))}</td></tr>"
            )
        parts.append("</tbody></table>")
        if perf.chunks:
            labels = [c.label for c in perf.chunks]
            metric_series = {
                m.name: [c.metrics.get(m.name) for c in perf.chunks] for m in perf.metrics
            }
            parts.append(f"<h2>Per chunk ({_e(perf.chunked_by)})</h2>")
            parts.append(lines_svg(metric_series, labels))
            parts.append(lines_svg({"drifted share": [c.share for c in perf.chunks]}, labels))
            parts.append(
                "<table><thead><tr><th>chunk</th><th>rows</th><th>drifted columns</th>"
                "<th>gates</th></tr></thead><tbody>"
                + "".join(
                    f"<tr><td>{_e(c.label)}</td><td class='num'>{c.rows}</td>"
                    f"<td>{len(c.drifted)}/{c.tested}{' DRIFT' if c.dataset_drift else ''}</td>"
                    f"<td>{_e(_chunk_gates(c))}</td></tr>"
                    for c in perf.chunks
                )
                + "</tbody></table>"
            )
    parts.append("<h2>Scores</h2>" + _score_rows(report.columns))
    parts.append("<h2>Distributions</h2>" + _cards(report.columns))
    return _page(f"tether monitor {report.release}", "".join(parts))


def perf_html(report: PerfReport) -> str:
    return drift_html(report.drift, report)
