"""The leaderboard of a study: one value (``Leaderboard``), built from its trials
as ``tether.tune.records`` reads them. Kept apart from the search so that `tether
tune show` loads neither Optuna, Hydra nor DVC."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.errors import UsageError
from tether.tune.records import read_sqlite, read_study
from tether.tune.storage import (
    DB_FILE,
    chosen_study,
    load_optuna,
    open_storage,
    shown_url,
    storage_url,
)


@dataclass
class Row:
    """One trial on the leaderboard."""

    number: int
    state: str  # complete, failed, running, waiting, interrupted
    overrides: list[str]
    metrics: dict[str, Any]
    value: float | None
    seconds: float | None
    experiment: str | None
    commit: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "experiment": self.experiment,
            "commit": self.commit,
            "overrides": self.overrides,
            "value": self.value,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "reason": self.reason,
        }


@dataclass
class Leaderboard:
    study: str
    metric: str
    minimize: bool
    sampler: str
    sweep: list[str]
    baseline: str
    storage: str  # shown with any password masked
    rows: list[Row] = field(default_factory=list)
    # The baseline commit as a row (state "baseline", number -1): its metrics and
    # recorded overrides, what a trial has to beat. None for a study recorded
    # before tether kept them.
    reference: Row | None = None

    def beats_baseline(self, row: Row) -> bool | None:
        """Whether ``row``'s value is better than the baseline's; None when either
        has no value to compare."""
        if self.reference is None or self.reference.value is None or row.value is None:
            return None
        if self.minimize:
            return row.value < self.reference.value
        return row.value > self.reference.value

    @property
    def best(self) -> Row | None:
        done = [r for r in self.rows if r.state == "complete" and r.value is not None]
        if not done:
            return None
        pick = min if self.minimize else max
        return pick(
            done, key=lambda r: (r.value, -r.number) if not self.minimize else (r.value, r.number)
        )

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.state == state)


def leaderboard(
    root: Path, name: str | None = None, storage: str | None = None, *, study: Any = None
) -> Leaderboard:
    """Every trial of the study ``name`` (default: the newest one in the storage)."""
    found = None
    if study is None and storage is None:
        found = read_sqlite(root / DB_FILE, name)
    if found is None:
        if study is None:
            optuna = load_optuna()
            opened = open_storage(root, storage, create=False)
            chosen = chosen_study(optuna, opened, name)
            study = optuna.load_study(study_name=chosen, storage=opened)
        found = read_study(study)
    study_name, settings, records = found
    board = Leaderboard(
        study=study_name,
        metric=settings.get("metric", "value"),
        minimize=bool(settings.get("minimize")),
        sampler=settings.get("sampler", "?"),
        sweep=list(settings.get("sweep", [])),
        baseline=settings.get("baseline", ""),
        storage=shown_url(storage_url(root, storage)),
        reference=_reference(settings),
    )
    for record in sorted(records, key=lambda r: r.number):
        attrs = record.attrs
        if attrs.get("discarded"):
            continue
        if record.state == "COMPLETE":
            state = "complete"
        elif record.state == "FAIL":
            state = "interrupted" if attrs.get("requeued") or not attrs.get("reason") else "failed"
        else:
            state = record.state.lower()
        board.rows.append(
            Row(
                number=record.number,
                state=state,
                overrides=list(attrs.get("overrides") or []),
                metrics=dict(attrs.get("metrics") or {}),
                value=record.value if state == "complete" else None,
                seconds=attrs.get("seconds"),
                experiment=attrs.get("experiment") if state == "complete" else None,
                commit=attrs.get("commit"),
                reason=attrs.get("reason")
                or ("worker stopped (retried)" if state == "interrupted" else None),
            )
        )
    return board


def _reference(settings: dict[str, Any]) -> Row | None:
    if "baseline_metrics" not in settings:
        return None
    value = settings.get("baseline_value")
    return Row(
        number=-1,
        state="baseline",
        overrides=list(settings.get("baseline_overrides") or []),
        metrics=dict(settings.get("baseline_metrics") or {}),
        value=float(value) if isinstance(value, int | float) else None,
        seconds=None,
        experiment=None,
        commit=settings.get("baseline"),
        reason=None,
    )


def sort_rows(board: Leaderboard, metric: str | None) -> list[Row]:
    """Finished trials best first by ``metric`` (default: the study's), then the rest."""
    key = metric or board.metric

    def score(row: Row) -> float | None:
        value = row.value if key == board.metric else row.metrics.get(key)
        return float(value) if isinstance(value, int | float) else None

    scored = [r for r in board.rows if score(r) is not None]
    lower = board.minimize if key == board.metric else False
    scored.sort(key=lambda r: (score(r) if lower else -(score(r) or 0.0), r.number))
    rest = [r for r in board.rows if score(r) is None]
    return scored + rest


def find_trial(board: Leaderboard, which: str) -> Row:
    """``best``, a trial number, or an experiment name."""
    if which == "best":
        best = board.best
        if best is None:
            raise UsageError(
                f"study {board.study!r} has no finished trial yet", "Run `tether tune` first."
            )
        return best
    for row in board.rows:
        if which in (str(row.number), row.experiment):
            if row.state != "complete":
                raise UsageError(
                    f"trial {row.number} did not finish ({row.state}): nothing to apply",
                    "Pick a finished trial from `tether tune show`.",
                )
            return row
    raise UsageError(
        f"no trial {which!r} in study {board.study!r}",
        "Name a trial by its number or experiment (see `tether tune show`), or say `best`.",
    )
