"""Comparing what was recorded with what was reproduced: output hashes, metric
values, and the tolerance rules that let a metric differ a little."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import yaml

from tether.errors import UsageError

EXACT = "exact"
WITHIN_TOLERANCE = "within tolerance"
DIFFERS = "differs"
MISSING = "missing"


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


def parse_tolerance(text: str) -> Tolerance:
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    try:
        bound = float(value)
    except ValueError:
        bound = math.nan
    if not sep or not metric or not math.isfinite(bound) or bound < 0:
        raise UsageError(
            f"--tolerance {text!r} is not METRIC=ABS",
            "Give a metric name and a non-negative bound, e.g. --tolerance accuracy=0.001",
        )
    return Tolerance(metric, bound)


@dataclass(frozen=True)
class MetricComparison:
    path: str  # the metrics file
    name: str  # dotted key inside it
    recorded: Any
    reproduced: Any
    difference: float | None  # reproduced - recorded, for numbers
    status: str  # exact | within tolerance | differs | missing
    tolerance: float | None = None


def parse_metrics(data: bytes | None) -> dict[str, Any] | None:
    """A metrics file (JSON or YAML) flattened to ``{"dotted.key": value}``."""
    if data is None:
        return None
    try:
        loaded = json.loads(data)
    except ValueError:
        try:
            loaded = yaml.safe_load(data)
        except yaml.YAMLError:
            return None
    if not isinstance(loaded, dict):
        return None
    return flatten(loaded)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


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
) -> str:
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
