"""The diff value: per file, per dotted key, old and new value and their change.

The rules are those of ``dvc.utils.diff``: a key missing on one side is ``None``
there; ``change`` exists only when both sides are numbers; unchanged rows are kept
only when asked. tether adds the relative change (against ``|old|``) and treats two
NaNs as equal (DVC reports them as changed forever).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.errors import MetricsUnreadable
from tether.metrics.collect import ReadError, Snapshot


class Kind(StrEnum):
    """What a compared file is."""

    METRICS = "metrics"
    PARAMS = "params"


METRICS = Kind.METRICS
PARAMS = Kind.PARAMS


def numeric(value: Any) -> bool:
    """A value DVC subtracts: int, float (and bool, which Python counts as an int)."""
    return isinstance(value, int | float)


def same(old: Any, new: Any) -> bool:
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return bool(old == new)


def raise_for_errors(errors: dict[str, list[ReadError]]) -> None:
    """Raise MetricsUnreadable naming every unreadable file and its fix."""
    found = [(rev, err) for rev, errs in errors.items() for err in errs]
    if not found:
        return
    lines = [f"{rev}: {err.path}: {err.message}" for rev, err in found]
    fixes = list(dict.fromkeys(err.fix for _, err in found))
    raise MetricsUnreadable(
        f"could not read {len(found)} metrics/params file(s), so the comparison is incomplete:\n  "
        + "\n  ".join(lines),
        "\n".join(fixes),
    )


@dataclass(frozen=True)
class Row:
    """One key of one file, compared between two revisions."""

    kind: Kind
    path: str
    key: str
    old: Any
    new: Any

    @property
    def changed(self) -> bool:
        return not same(self.old, self.new)

    @property
    def change(self) -> float | int | None:
        """``new - old`` when both are numbers, else None."""
        if numeric(self.old) and numeric(self.new):
            return self.new - self.old
        return None

    @property
    def relative(self) -> float | None:
        """The change as a fraction of ``|old|``; None when undefined (old is 0 or
        not a number)."""
        change = self.change
        if change is None or not self.old or math.isnan(self.old):
            return None
        return change / abs(self.old)

    def to_dvc(self) -> dict[str, Any]:
        """This row as ``dvc metrics diff --json`` writes it."""
        entry: dict[str, Any] = {"old": self.old, "new": self.new}
        if self.change is not None:
            entry["diff"] = self.change
        return entry


@dataclass
class MetricsDiff:
    """Metrics and params of revision ``a`` against revision ``b``."""

    a: str
    b: str
    rows: list[Row] = field(default_factory=list)
    errors: dict[str, list[ReadError]] = field(default_factory=dict)

    def changed(self, kind: str | None = None) -> list[Row]:
        return [r for r in self.rows if r.changed and (kind is None or r.kind == kind)]

    def shown(self, show_all: bool = False, kind: str | None = None) -> list[Row]:
        return [
            r for r in self.rows if (show_all or r.changed) and (kind is None or r.kind == kind)
        ]

    @property
    def failed(self) -> bool:
        """Whether some file could not be read at either revision."""
        return any(self.errors.values())

    def raise_for_errors(self) -> None:
        """Fail closed: MetricsUnreadable if any file could not be read."""
        raise_for_errors(self.errors)

    def to_dict(self, show_all: bool = False) -> dict[str, Any]:
        """``metrics`` and ``params`` shaped as ``dvc metrics diff --json`` and
        ``dvc params diff --json``, plus ``errors`` per revision."""
        out: dict[str, Any] = {METRICS: {}, PARAMS: {}}
        for row in self.shown(show_all):
            out[row.kind].setdefault(row.path, {})[row.key] = row.to_dvc()
        out["errors"] = {rev: [e.to_dict() for e in errors] for rev, errors in self.errors.items()}
        return out


def compare(old: Snapshot, new: Snapshot) -> MetricsDiff:
    """Every key of every metrics and params file at either revision, compared."""
    result = MetricsDiff(a=old.rev, b=new.rev)
    for kind in (METRICS, PARAMS):
        before: dict[str, dict[str, Any]] = getattr(old, kind)
        after: dict[str, dict[str, Any]] = getattr(new, kind)
        for path in sorted(set(before) | set(after)):
            a_values, b_values = before.get(path, {}), after.get(path, {})
            for key in sorted(set(a_values) | set(b_values)):
                result.rows.append(Row(kind, path, key, a_values.get(key), b_values.get(key)))
    result.errors = {old.rev: list(old.errors), new.rev: list(new.errors)}
    if old.rev == new.rev:
        result.errors = {old.rev: list(old.errors)}
    return result


# A value absent at one side of a comparison, as every renderer shows it.
MISSING = "—"


def fmt_value(value: Any) -> str:
    """A value for display: NaN and infinities spelled out, floats to 6 digits."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        return f"{value:.6g}"
    return str(value)
