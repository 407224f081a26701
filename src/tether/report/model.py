"""The pull-request report as a value: what the Markdown renderer (and ``--json``) show.

Built by ``tether.report.build`` from the metrics diff, the gates and the registry;
kept free of their types so the renderer can be tested on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """The report's one-word outcome."""

    FAIL = "fail"  # a gate breached
    ERROR = "error"  # metrics unreadable
    PASS = "pass"  # gates all hold
    NONE = "none"  # no gates to judge by


@dataclass(frozen=True)
class Change:
    """One metric or param key of one file, base against head."""

    path: str
    key: str
    old: Any
    new: Any
    lower_is_better: bool = False

    @property
    def change(self) -> float | None:
        if _number(self.old) and _number(self.new):
            return self.new - self.old
        return None

    @property
    def relative(self) -> float | None:
        change = self.change
        if change is None or not self.old or math.isnan(self.old) or math.isinf(self.old):
            return None
        return change / abs(self.old)

    @property
    def better(self) -> bool | None:
        """True if the change goes the metric's good way, None if unchanged or not numeric."""
        change = self.change
        if change is None or change == 0 or math.isnan(change):
            return None
        return (change < 0) == self.lower_is_better


@dataclass(frozen=True)
class Gate:
    rule: str
    metric: str
    passed: bool
    message: str


@dataclass(frozen=True)
class StageView:
    """A registry stage of one artifact, and the head's metrics against it."""

    stage: str
    version: str
    commit: str
    deltas: list[Change] = field(default_factory=list)
    error: str | None = None  # the stage's metrics could not be read


@dataclass(frozen=True)
class ArtifactView:
    name: str
    latest: str | None
    stages: list[StageView] = field(default_factory=list)


@dataclass(frozen=True)
class Series:
    """One metric across the last releases of an artifact, then the head."""

    artifact: str
    metric: str
    labels: list[str]
    values: list[float | None]


@dataclass(frozen=True)
class Uncharted:
    """The metrics of one artifact's history that were not charted (past the cap)."""

    artifact: str
    charted: int
    left_out: list[str]


@dataclass
class Report:
    base: str
    head: str
    base_commit: str | None
    head_commit: str | None
    metrics: list[Change] = field(default_factory=list)
    params: list[Change] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be read
    # Why the registry section is empty: unreadable, or this clone may miss tags.
    registry_error: str | None = None
    artifacts: list[ArtifactView] = field(default_factory=list)
    history: list[Series] = field(default_factory=list)
    uncharted: list[Uncharted] = field(default_factory=list)
    artifacts_url: str | None = None
    head_is_workspace: bool = False  # head_commit is then the commit the workspace is on

    @property
    def verdict(self) -> Verdict:
        """fail: a gate breached; error: metrics unreadable; pass: gates all hold;
        none: no gates to judge by."""
        if any(not g.passed for g in self.gates):
            return Verdict.FAIL
        if self.errors:
            return Verdict.ERROR
        return Verdict.PASS if self.gates else Verdict.NONE


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
