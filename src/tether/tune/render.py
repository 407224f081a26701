"""The leaderboard, four ways: a terminal table, Markdown, JSON and CSV. Each
renders the one value ``tether.tune.study.Leaderboard``; nothing else formats it."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from tether.tune.board import Leaderboard, Row


def _with_baseline(board: Leaderboard, rows: list[Row]) -> list[Row]:
    """``rows`` after the baseline's row, the one every trial is compared with."""
    return [board.reference, *rows] if board.reference is not None else rows


def _label(row: Row) -> tuple[str, str]:
    """The number and experiment cells: the baseline's are "base" and its commit."""
    if row.state == "baseline":
        return "base", (row.commit or "")[:8]
    return str(row.number), row.experiment or ""


def _swept(row: Row, board: Leaderboard) -> str:
    """The overrides the sweep varies (fixed ones are in the header); for the
    baseline, the overrides its commit recorded."""
    if row.state == "baseline":
        return " ".join(row.overrides) or "(none recorded)"
    names = {_name(s) for s in board.sweep if _is_swept(s)}
    shown = [o for o in row.overrides if _name(o) in names] or row.overrides
    return " ".join(shown)


def _name(override: str) -> str:
    return override.split("=", 1)[0]


def _is_swept(text: str) -> bool:
    value = text.split("=", 1)[1] if "=" in text else ""
    return "," in value or any(
        value.lstrip().startswith(f) for f in ("range(", "choice(", "interval(", "tag(")
    )


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value + 0.0:.6g}"  # + 0.0: no "-0"


def metric_names(board: Leaderboard, rows: list[Row]) -> list[str]:
    names: dict[str, None] = {board.metric: None}
    for row in _with_baseline(board, rows):
        names.update(dict.fromkeys(sorted(row.metrics)))
    return list(names)


def header(board: Leaderboard) -> str:
    goal = "lowest" if board.minimize else "highest"
    return (
        f"study {board.study}: {board.sampler} over {' '.join(board.sweep)}; "
        f"{goal} {board.metric} wins; baseline {board.baseline[:8]}"
    )


def table(board: Leaderboard, rows: list[Row]) -> Any:
    """A rich table for the terminal."""
    from rich.table import Table

    names = metric_names(board, rows)
    best = board.best
    out = Table(title=header(board), title_justify="left", show_edge=False)
    out.add_column("#", justify="right")
    out.add_column("experiment")
    out.add_column("state")
    out.add_column("overrides")
    for name in names:
        out.add_column(name, justify="right")
    out.add_column("seconds", justify="right")
    for row in _with_baseline(board, rows):
        number, experiment = _label(row)
        mark = " *" if best is not None and row is best else ""
        state = row.state if not row.reason else f"{row.state}: {row.reason}"
        out.add_row(
            f"{number}{mark}",
            experiment,
            state,
            _swept(row, board),
            *(_number(row.metrics.get(n)) for n in names),
            _number(row.seconds),
        )
    return out


def against_baseline(board: Leaderboard, row: Row) -> str | None:
    """A sentence comparing ``row`` with the baseline commit; None when either has
    no value (a study recorded before tether kept the baseline's, or no metrics)."""
    beats = board.beats_baseline(row)
    ref = board.reference
    if beats is None or ref is None or ref.value is None:
        return None
    commit = (ref.commit or "")[:8]
    if beats:
        return f"the baseline ({commit}) has {board.metric}={ref.value:.6g}; trial {row.number} improves on it."
    return (
        f"trial {row.number} ({board.metric}={_number(row.value)}) does not beat the baseline "
        f"({commit}, {board.metric}={ref.value:.6g}): applying it would not improve the "
        "model. Widen the sweep, or keep the baseline."
    )


def summary(board: Leaderboard, ran: int, failed: int, earlier: int) -> list[str]:
    """What a finished sweep prints: counts, the best trial against the baseline,
    and what to run next."""
    lines = [
        f"study {board.study}: {ran} trial(s) ran, {failed} failed"
        + (f", {earlier} finished before" if earlier else "")
        + f"; {board.count('complete')} complete in all."
    ]
    best = board.best
    if best is not None and best.value is not None:
        lines.append(
            f"best: trial {best.number} ({best.experiment}) {board.metric}={best.value:.6g} "
            f"with {' '.join(best.overrides)}"
        )
        verdict = against_baseline(board, best)
        if verdict is not None:
            lines.append(verdict)
        if board.beats_baseline(best) is not False:
            lines.append("Next: `tether tune show`, then `tether tune apply best` and commit.")
    return lines


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(board: Leaderboard, rows: list[Row]) -> str:
    names = metric_names(board, rows)
    lines = [
        f"**{_md(header(board))}**",
        "",
        "| # | Experiment | State | Overrides | "
        + " | ".join(_md(n) for n in names)
        + " | Seconds |",
        "|---:|---|---|---|" + "---:|" * len(names) + "---:|",
    ]
    for row in _with_baseline(board, rows):
        number, experiment = _label(row)
        state = row.state if not row.reason else f"{row.state}: {row.reason}"
        cells = [
            number,
            _md(experiment),
            _md(state),
            _md(_swept(row, board)),
            *(_number(row.metrics.get(n)) for n in names),
            _number(row.seconds),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    return value


def to_json(board: Leaderboard, rows: list[Row]) -> dict[str, Any]:
    best = board.best
    return _strict(
        {
            "study": board.study,
            "metric": board.metric,
            "direction": "minimize" if board.minimize else "maximize",
            "sampler": board.sampler,
            "sweep": board.sweep,
            "baseline": board.baseline,
            "storage": board.storage,
            "best": best.number if best else None,
            "baseline_row": board.reference.to_dict() if board.reference else None,
            "trials": [r.to_dict() for r in rows],
        }
    )


def to_csv(board: Leaderboard, rows: list[Row]) -> str:
    names = metric_names(board, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "experiment", "state", "overrides", *names, "seconds", "reason"])
    for row in _with_baseline(board, rows):
        number, experiment = _label(row)
        writer.writerow(
            [
                number,
                experiment,
                row.state,
                " ".join(row.overrides),
                *(row.metrics.get(n, "") for n in names),
                "" if row.seconds is None else row.seconds,
                row.reason or "",
            ]
        )
    return buffer.getvalue()
