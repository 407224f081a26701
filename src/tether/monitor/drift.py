"""Data drift: each column of a batch against the release's reference, then the
dataset as a whole (drifted when at least ``drift_share`` of the tested columns
drift, as Evidently decides it).

Nothing is skipped silently. A column the batch lacks, a number column holding
text, a column empty on one side, categories never seen in training, a model that
cannot score the batch: each is a named status on its row, and all but "extra"
count as drifted, because the batch does not look like the training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import UsageError
from tether.monitor import data, reference, stattests
from tether.monitor.config import MonitorConfig
from tether.monitor.profile import PREDICTION, ColumnProfile, Profile
from tether.monitor.stattests import CAT, NUM, Sample

FEATURE = "feature"
TARGET = "target"
PREDICTION_ROLE = "prediction"

OK = "ok"
DRIFT = "drift"
MISSING = "missing"
DTYPE = "dtype changed"
EMPTY = "all null"
NO_FINITE = "no finite value"
NEW_VALUES = "no values in training"
NEW_CATEGORIES = "new categories"
NOT_SCORED = "not scored"
NOT_TESTED = "not tested"

# Past this many batch rows a p-value test flags differences too small to matter
# (at a million rows, the sampling noise of a 114-row split resampled to fill them
# is "significant" in most columns). Evidently's answer for large data is an effect
# size; its defaults switch to one by the reference's size, never the batch's.
LARGE_BATCH = 10_000

PLOT_BINS = 20
PLOT_CATEGORIES = 8


@dataclass(frozen=True)
class Plot:
    """Shares of rows per bin (numbers) or per category, on each side."""

    labels: list[str]
    reference: list[float]
    current: list[float]
    edges: list[float] | None = None  # numbers: PLOT_BINS + 1 edges

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "reference": self.reference,
            "current": self.current,
            "edges": self.edges,
        }


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    role: str
    kind: str
    status: str
    drifted: bool
    counted: bool  # in the dataset share
    test: str | None = None
    test_display: str = ""
    score: float | None = None
    threshold: float | None = None
    approximate: bool = False
    note: str = ""
    reference_rows: int = 0
    current_rows: int = 0
    current_nulls: int = 0
    current_infinite: int = 0
    plot: Plot | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "role": self.role,
            "kind": self.kind,
            "test": self.test,
            "score": _finite(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "status": self.status,
            "counted": self.counted,
            "approximate": self.approximate,
            "note": self.note,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "current_nulls": self.current_nulls,
            "current_infinite": self.current_infinite,
        }


def _finite(value: float | None) -> float | str | None:
    if value is None:
        return None
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


@dataclass(frozen=True)
class DriftReport:
    ref: str
    release: str  # NAME vX.Y.Z
    origin: str  # where the reference came from (stored / rebuilt / raw)
    reference_rows: int
    current_rows: int
    columns: list[ColumnDrift]
    extra: list[str]
    drift_share: float

    @property
    def tested(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.counted]

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [c for c in self.tested if c.drifted]

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.tested) if self.tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.tested) and self.share >= self.drift_share

    @property
    def caution(self) -> str:
        """A warning when p-value tests judged a batch large enough to make them
        hypersensitive, with the effect-size tests that answer it; "" otherwise."""
        if self.current_rows <= LARGE_BATCH:
            return ""
        by_p = [
            c
            for c in self.tested
            if c.test in stattests.REGISTRY and stattests.REGISTRY[c.test].is_pvalue
        ]
        if not by_p:
            return ""
        flagged = sum(1 for c in by_p if c.drifted)
        return (
            f"caution: {len(by_p)} column(s) were judged by p-value tests on "
            f"{self.current_rows:,} batch rows ({flagged} drifted): at that size they flag "
            "differences too small to matter. Judge by effect size instead, as Evidently "
            'does for large data: test = "wasserstein" (numbers, threshold 0.1) or '
            '"jensenshannon" (categories, threshold 0.1) in [tool.tether.monitor] '
            'columns."NAME", or test a sample of the batch.'
        )

    @property
    def verdict(self) -> str:
        names = ", ".join(c.column for c in self.drifted[:6]) + (
            " ..." if len(self.drifted) > 6 else ""
        )
        head = "DATASET DRIFT" if self.dataset_drift else "no dataset drift"
        tail = f": {names}" if self.drifted else ""
        return (
            f"{head}: {len(self.drifted)} of {len(self.tested)} columns drifted "
            f"({self.share:.0%}; dataset drift at {self.drift_share:.0%}){tail}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "release": self.release,
            "reference": self.origin,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "dataset_drift": self.dataset_drift,
            "drifted_columns": len(self.drifted),
            "tested_columns": len(self.tested),
            "share": self.share,
            "drift_share": self.drift_share,
            "verdict": self.verdict,
            "caution": self.caution,
            "columns": [c.to_dict() for c in self.columns],
            "extra_columns": self.extra,
        }


# --- plots ------------------------------------------------------------------------------


def _plot(ref: Sample, cur: Sample) -> Plot | None:
    if ref.n == 0 or cur.n == 0:
        return None
    if ref.kind == NUM:
        lo = min(float(ref.points[0]), float(cur.points[0]))  # numbers are sorted
        hi = max(float(ref.points[-1]), float(cur.points[-1]))
        if ref.minimum is not None and ref.maximum is not None:
            lo, hi = min(lo, ref.minimum), max(hi, ref.maximum)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, PLOT_BINS + 1)
        if ref.exact:
            ref_shares = np.histogram(ref.points, edges)[0] / ref.n
        else:
            ref_shares = np.diff(stattests._ecdf_at(ref, edges))
        cur_shares = np.histogram(cur.points, edges)[0] / cur.n
        labels = [f"{edges[i]:.4g}" for i in range(PLOT_BINS)]
        return Plot(
            labels,
            [round(float(v), 5) for v in ref_shares],
            [round(float(v), 5) for v in cur_shares],
            [round(float(e), 6) for e in edges],
        )
    rc, cc = ref.counts, cur.counts
    keys = sorted(set(rc) | set(cc), key=lambda k: -(rc.get(k, 0) / ref.n + cc.get(k, 0) / cur.n))
    shown, rest = keys[:PLOT_CATEGORIES], keys[PLOT_CATEGORIES:]
    ref_parts = [rc.get(k, 0) / ref.n for k in shown]
    cur_parts = [cc.get(k, 0) / cur.n for k in shown]
    labels = [str(k) for k in shown]
    if rest:
        labels.append(f"{len(rest)} others")
        ref_parts.append(sum(rc.get(k, 0) for k in rest) / ref.n)
        cur_parts.append(sum(cc.get(k, 0) for k in rest) / cur.n)
    return Plot(labels, [round(v, 5) for v in ref_parts], [round(v, 5) for v in cur_parts])


# --- one column -------------------------------------------------------------------------


def _choose(
    ref: Sample, cur: Sample, column: str, config: MonitorConfig
) -> tuple[stattests.StatTest, float]:
    rule = config.columns.get(column)
    if rule is not None and rule.test is not None:
        test = stattests.get(rule.test, ref.kind, column)
    else:
        test = stattests.default_test(ref, cur)
    threshold = (
        rule.threshold if rule is not None and rule.threshold is not None else test.threshold
    )
    return test, threshold


def _named(base: dict[str, Any], status: str, note: str, drifted: bool = True) -> ColumnDrift:
    """A column that could not be tested, with why: counted as drifted unless there
    is nothing to compare on either side."""
    return ColumnDrift(**base, status=status, drifted=drifted, counted=drifted, note=note)


def _untestable(
    base: dict[str, Any], series: pd.Series | None, cleaned: data.Cleaned, ref: Sample
) -> ColumnDrift | None:
    if cleaned.unparsable:
        examples = ", ".join(repr(e) for e in cleaned.examples)
        dtype = f" (now {series.dtype})" if series is not None else ""
        return _named(
            base,
            DTYPE,
            f"numbers in training{dtype}; {cleaned.unparsable} value(s) are not numbers: {examples}",
        )
    if ref.n == 0 and len(cleaned.values) == 0:
        return _named(base, NOT_TESTED, "no values in training nor in the batch", drifted=False)
    if ref.n == 0:
        return _named(base, NEW_VALUES, "the column was empty in training and has values now")
    if len(cleaned.values) == 0 and cleaned.infinite:
        nulls = f", {cleaned.nulls} null" if cleaned.nulls else ""
        return _named(
            base,
            NO_FINITE,
            f"no finite value in the batch: {cleaned.infinite} infinite{nulls}",
        )
    if len(cleaned.values) == 0:
        return _named(base, EMPTY, f"every value is null in the batch ({cleaned.nulls} rows)")
    return None


def _new_categories(ref: Sample, cur: Sample) -> str:
    new = sorted(set(cur.counts) - set(ref.counts), key=str)
    if not new:
        return ""
    rows = sum(cur.counts[k] for k in new)
    shown = ", ".join(repr(k) for k in new[:5]) + (" ..." if len(new) > 5 else "")
    noun = "category" if len(new) == 1 else "categories"
    return f"{len(new)} {noun} never seen in training ({rows} rows): {shown}"


def compare_column(
    profile: ColumnProfile,
    series: pd.Series | None,
    role: str,
    config: MonitorConfig,
    exact: bool = True,
) -> ColumnDrift:
    """One column of the batch (``series``, None when absent) against its profile."""
    base: dict[str, Any] = {
        "column": profile.name,
        "role": role,
        "kind": profile.kind,
        "reference_rows": profile.count,
    }
    if series is None:
        if role == TARGET:
            return _named(base, NOT_TESTED, "the batch has no labels", drifted=False)
        return _named(base, MISSING, "the batch has no such column")
    cleaned = data.clean(series, profile.kind)
    base.update(
        current_rows=len(cleaned.values),
        current_nulls=cleaned.nulls,
        current_infinite=cleaned.infinite,
    )
    ref = profile.sample(exact)
    problem = _untestable(base, series, cleaned, ref)
    if problem is not None:
        return problem
    cur = data.sample(cleaned.values, profile.kind)
    test, threshold = _choose(ref, cur, profile.name, config)
    score = test.func(ref, cur)
    drifted = test.drifted(score.value, threshold)
    new = _new_categories(ref, cur) if profile.kind == CAT else ""
    notes = [
        new,
        f"{cleaned.infinite} infinite value(s) left out of the test" if cleaned.infinite else "",
        "constant in training" if ref.distinct == 1 else "",
        "the test gave no score" if np.isnan(score.value) else "",
        "from the profile's quantiles" if score.approximate else "",
    ]
    return ColumnDrift(
        **base,
        status=NEW_CATEGORIES if new else (DRIFT if drifted else OK),
        drifted=drifted,
        counted=True,
        test=test.name,
        test_display=test.display,
        score=score.value,
        threshold=threshold,
        approximate=score.approximate,
        note="; ".join(n for n in notes if n),
        plot=_plot(ref, cur),
    )


# --- a whole batch ----------------------------------------------------------------------


def compare(
    profile: Profile,
    frame: pd.DataFrame,
    config: MonitorConfig,
    predictions: np.ndarray | str | None = None,
    exact: bool = True,
    ref: str = "",
    release: str = "",
    origin: str = "",
) -> DriftReport:
    """Every reference column of ``frame`` (the target when the batch has it) and the
    model's ``predictions`` (an error message when it could not score the batch)."""
    if not any(name in frame.columns for name in profile.features):
        raise UsageError(
            "the batch has none of the columns the model was trained on "
            f"({', '.join(profile.features[:5])}{' ...' if len(profile.features) > 5 else ''})",
            "Check that the file is a batch of this model's input, with its header line.",
        )
    columns = []
    for name, column in profile.columns.items():
        role = TARGET if name == profile.target else FEATURE
        series = frame[name] if name in frame.columns else None
        columns.append(compare_column(column, series, role, config, exact))
    if profile.prediction is not None:
        if isinstance(predictions, str):
            columns.append(
                ColumnDrift(
                    PREDICTION,
                    PREDICTION_ROLE,
                    profile.prediction.kind,
                    NOT_SCORED,
                    True,
                    True,
                    note=predictions,
                    reference_rows=profile.prediction.count,
                )
            )
        elif predictions is not None:
            columns.append(
                compare_column(
                    profile.prediction,
                    pd.Series(predictions, name=PREDICTION),
                    PREDICTION_ROLE,
                    config,
                    exact,
                )
            )
    extra = [str(c) for c in frame.columns if c not in profile.columns]
    report = DriftReport(
        ref, release, origin, profile.rows, len(frame), columns, extra, config.drift_share
    )
    return report


def drift(root: Path, ref: str, batch: Path, exact: bool = False) -> DriftReport:
    """``batch`` (a CSV file) against release ``ref``'s reference."""
    frame = data.read_csv(batch, "batch")
    found = reference.load(root, ref, exact=exact)
    predictions = score_batch(root, found, frame)
    return compare(
        found.profile,
        frame,
        found.config,
        predictions,
        exact=exact,
        ref=ref,
        release=f"{found.record.artifact} {found.record.version}",
        origin=found.origin,
    )


def score_batch(root: Path, found: Any, frame: pd.DataFrame) -> np.ndarray | str | None:
    """The model's predictions on ``frame`` (without the target), or why it failed."""
    if found.profile.prediction is None:
        return None
    model = reference.load_model(root, found.manifest)
    target = found.profile.target
    features = frame.drop(columns=[target]) if target in frame.columns else frame
    try:
        return reference.predict(model, features)
    except UsageError as exc:
        return exc.message
