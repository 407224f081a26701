"""Comparing what was recorded with what was reproduced: output hashes, metric
values, and the tolerance rules that let a metric differ a little."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tether.errors import UsageError
from tether.formats import DuplicateKey, FormatError, flatten, parse


class Status(StrEnum):
    """How a rebuilt output or metric compares with the recorded one."""

    EXACT = "exact"
    WITHIN_TOLERANCE = "within tolerance"
    DIFFERS = "differs"
    MISSING = "missing"


EXACT = Status.EXACT
WITHIN_TOLERANCE = Status.WITHIN_TOLERANCE
DIFFERS = Status.DIFFERS
MISSING = Status.MISSING


@dataclass(frozen=True)
class Tolerance:
    """``METRIC=ABS``: metric ``METRIC`` may differ by at most ``ABS``.

    ``METRIC`` is a metric name (``accuracy``, nested ``test.accuracy``), or
    ``FILE:NAME`` to name one metrics file only.
    """

    metric: str
    bound: float

    def applies_to(self, path: str, name: str) -> bool:
        file, sep, key = self.metric.rpartition(":")
        if sep:
            return file == path and key == name
        return self.metric == name


# The --tolerance grammar, as the error for a malformed one spells it out.
TOLERANCE_FORMS = (
    "Accepted forms: METRIC=ABS (accuracy=0.001; nested keys dotted, test.accuracy=0.001) "
    "or FILE:METRIC=ABS for one metrics file (reports/metrics.json:accuracy=0.001), "
    "where ABS is a number >= 0."
)


def parse_tolerance(text: str) -> Tolerance:
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    try:
        bound = float(value)
    except ValueError:
        bound = math.nan
    file, colon, key = metric.partition(":")
    scoped_ok = not colon or (file.strip() and key.strip() and ":" not in key)
    if not sep or not metric or not scoped_ok or not math.isfinite(bound) or bound < 0:
        raise UsageError(
            f"--tolerance {text!r} is not METRIC=ABS or FILE:METRIC=ABS", TOLERANCE_FORMS
        )
    return Tolerance(metric, bound)


def unmatched(
    tolerances: Sequence[Tolerance], recorded: dict[str, dict[str, Any]]
) -> list[Tolerance]:
    """The tolerances that name none of the ``recorded`` metrics (``{file: {name: value}}``)."""
    return [
        t
        for t in tolerances
        if not any(t.applies_to(path, name) for path, names in recorded.items() for name in names)
    ]


def check_tolerances(
    tolerances: Sequence[Tolerance],
    recorded: dict[str, dict[str, Any]],
    rev: str,
    unread: Sequence[str] = (),
    commit: str | None = None,
) -> None:
    """Refuse a tolerance that names no metric recorded at ``rev``: it could never
    apply, and a typo must not pass for a tolerance that was honoured.

    The error lists the names that exist, plain and as ``FILE:METRIC``, and the
    metrics files whose recorded values could not be read (``unread``).
    """
    missing = unmatched(tolerances, recorded)
    if not missing:
        return
    named = ", ".join(repr(t.metric) for t in missing)
    what = "metrics" if len(missing) > 1 else "a metric"
    if unread:
        message = f"--tolerance names {what} not found in the metrics of {rev} that could be read: {named}"
    else:
        message = f"--tolerance names {what} that {rev} did not record: {named}"
    names = sorted({name for values in recorded.values() for name in values})
    if names:
        scoped = [f"{path}:{name}" for path in sorted(recorded) for name in sorted(recorded[path])]
        hint = (
            f"Metrics recorded at {rev}: {', '.join(names)} (as FILE:METRIC: {', '.join(scoped)})."
        )
    elif unread:
        hint = f"No recorded metric values of {rev} could be read."
    else:
        hint = f"{rev} records no metrics: leave out --tolerance."
    if unread:
        fetch = commit[:8] if commit else rev
        hint += (
            f" Recorded values could not be read from {', '.join(sorted(unread))}, so no tolerance "
            f"can apply there; for a file DVC stores, fetch it (`dvc fetch --rev {fetch}`) or "
            "verify with --from-remote."
        )
    raise UsageError(message, hint)


@dataclass(frozen=True)
class MetricComparison:
    path: str  # the metrics file
    name: str  # dotted key inside it
    recorded: Any
    reproduced: Any
    difference: float | None  # reproduced - recorded, for numbers
    status: Status
    tolerance: float | None = None


def parse_metrics(path: str, data: bytes | None) -> dict[str, Any] | None:
    """A metrics file flattened to ``{"dotted.key": value}`` the way ``tether diff``
    reads it (format by extension, DVC's rules); None when absent or unreadable."""
    if data is None:
        return None
    try:
        loaded = parse(path, data)
        return flatten(loaded) if isinstance(loaded, dict) else None
    except (FormatError, DuplicateKey):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def compare_metrics(
    path: str, recorded: dict[str, Any], reproduced: dict[str, Any], tolerances: list[Tolerance]
) -> list[MetricComparison]:
    """One comparison per metric name found on either side."""
    results = []
    for name in sorted(recorded.keys() | reproduced.keys()):
        before, after = recorded.get(name), reproduced.get(name)
        bound = next((t.bound for t in tolerances if t.applies_to(path, name)), None)
        old, new = _number(before), _number(after)
        difference = new - old if old is not None and new is not None else None
        if name not in recorded or name not in reproduced:
            status = MISSING
        elif before == after and type(before) is type(after):
            status = EXACT
        elif difference is not None and bound is not None and abs(difference) <= bound:
            status = WITHIN_TOLERANCE
        else:
            status = DIFFERS
        results.append(MetricComparison(path, name, before, after, difference, status, bound))
    return results


def output_status(
    recorded: str | None, reproduced: str | None, metrics: list[MetricComparison]
) -> Status:
    """Exact when the bytes match; within tolerance when a metrics file differs only
    in metrics that are each within their bound; else differs (missing if absent)."""
    if reproduced is None:
        return MISSING
    if recorded == reproduced:
        return EXACT
    changed = [m for m in metrics if m.status != EXACT]
    if changed and all(m.status == WITHIN_TOLERANCE for m in changed):
        return WITHIN_TOLERANCE
    return DIFFERS
