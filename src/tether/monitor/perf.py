"""Performance on a labelled batch: the release's model scores it, the metrics the
release recorded are computed again and compared with the recorded values, and the
gates of ``tether diff --fail-on`` judge the change. With chunks (``--chunk N``
rows, or ``--by COLUMN`` values in sorted order), metrics and drift are computed
per chunk too, so a trend over time shows.

The metrics are those of the example's evaluate stage, as scikit-learn computes
them, with the decision threshold the release's params recorded
(``threshold_param``): accuracy, precision, recall, f1, roc_auc, plus
balanced_accuracy, log_loss and brier when recorded. A recorded metric tether
cannot compute is shown as such, and a gate on it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import UsageError
from tether.metrics.diff import METRICS, MetricsDiff, Row
from tether.metrics.gates import Verdict, evaluate_gates, find_row, load_config, parse_rule
from tether.monitor import data, drift, reference


def _metric_functions() -> dict[str, Callable[[np.ndarray, np.ndarray, float], float]]:
    from sklearn import metrics as skm

    def labels(scores: np.ndarray, threshold: float) -> np.ndarray:
        return (scores >= threshold).astype(int)

    return {
        "accuracy": lambda y, s, t: skm.accuracy_score(y, labels(s, t)),
        "balanced_accuracy": lambda y, s, t: skm.balanced_accuracy_score(y, labels(s, t)),
        "precision": lambda y, s, t: skm.precision_score(y, labels(s, t), zero_division=0),
        "recall": lambda y, s, t: skm.recall_score(y, labels(s, t), zero_division=0),
        "f1": lambda y, s, t: skm.f1_score(y, labels(s, t), zero_division=0),
        "roc_auc": lambda y, s, t: skm.roc_auc_score(y, s),
        "log_loss": lambda y, s, t: skm.log_loss(y, s, labels=[0, 1]),
        "brier": lambda y, s, t: skm.brier_score_loss(y, s),
    }


@dataclass(frozen=True)
class Metric:
    path: str  # the metrics file the release recorded it in
    name: str
    recorded: float | None
    value: float | None
    note: str = ""

    @property
    def change(self) -> float | None:
        if self.recorded is None or self.value is None:
            return None
        return self.value - self.recorded

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "metric": self.name,
            "recorded": self.recorded,
            "value": _json_number(self.value),
            "change": _json_number(self.change),
            "note": self.note,
        }


def _json_number(value: float | None) -> float | str | None:
    if value is None or np.isfinite(value):
        return value
    return "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


@dataclass(frozen=True)
class Chunk:
    label: str
    rows: int
    metrics: dict[str, float | None]
    drifted: list[str]
    tested: int
    share: float
    dataset_drift: bool
    breached: list[str]  # the gate rules this chunk alone breaches
    skipped: list[str] = field(default_factory=list)  # rules on a metric undefined here

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk": self.label,
            "rows": self.rows,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "drifted_columns": self.drifted,
            "tested_columns": self.tested,
            "share": self.share,
            "dataset_drift": self.dataset_drift,
            "breached": self.breached,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class PerfReport:
    ref: str
    release: str
    rows: int
    target: str
    threshold: float
    metrics: list[Metric]
    verdicts: list[Verdict]
    drift: drift.DriftReport
    chunks: list[Chunk] = field(default_factory=list)
    chunked_by: str = ""
    skipped: list[str] = field(default_factory=list)  # gates on an undefined metric

    @property
    def breached(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    @property
    def verdict(self) -> str:
        aside = (
            f"; {len(self.skipped)} gate(s) not judged: their metric is undefined on this batch"
            if self.skipped
            else ""
        )
        if not self.verdicts:
            if self.skipped:
                return f"no gate judged on {self.rows} rows{aside}"
            return f"{len(self.metrics)} metric(s) computed on {self.rows} rows; no gate configured"
        if self.breached:
            return (
                f"GATE BREACHED: {len(self.breached)} of {len(self.verdicts)} gate(s) "
                f"on {self.rows} rows{aside}"
            )
        return f"gates pass: {len(self.verdicts)} gate(s) on {self.rows} rows{aside}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "release": self.release,
            "rows": self.rows,
            "target": self.target,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "metrics": [m.to_dict() for m in self.metrics],
            "gates": [v.to_dict() for v in self.verdicts],
            "skipped_gates": self.skipped,
            "drift": self.drift.to_dict(),
            "chunked_by": self.chunked_by,
            "chunks": [c.to_dict() for c in self.chunks],
        }


def _flatten(values: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(values, dict):
        for key, value in values.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(values, int | float) and not isinstance(values, bool):
        out[prefix.rstrip(".")] = float(values)
    return out


def recorded_metrics(metrics: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(file, dotted key, value) of every number the release recorded."""
    return [
        (path, key, value)
        for path, values in sorted(metrics.items())
        for key, value in sorted(_flatten(values).items())
    ]


def labels_of(frame: pd.DataFrame, target: str) -> np.ndarray:
    if target not in frame.columns:
        raise UsageError(
            f"the batch has no target column {target!r}, so its performance cannot be measured",
            "Add the labels to the batch, or name the label column with --target COLUMN "
            "(`tether monitor drift` needs no labels).",
        )
    column = frame[target]
    if column.isna().any():
        raise UsageError(
            f"the target column {target!r} has {int(column.isna().sum())} empty value(s)",
            "Drop or label those rows first.",
        )
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any() or not set(values.unique().tolist()) <= {0, 1}:
        shown = ", ".join(sorted({repr(v) for v in column.unique().tolist()})[:5])
        raise UsageError(
            f"the target column {target!r} must hold 0 and 1 (the release is a binary "
            f"classifier); found {shown}",
            "Map the labels to 0/1 as in the training data.",
        )
    return values.to_numpy(dtype=int)


def _undefined(metric: str, y: np.ndarray, predicted: np.ndarray) -> str:
    """Why ``metric`` has no value on these labels and predictions, or "" when it has.

    scikit-learn's ``zero_division`` would print such a metric as 0 (or 1): a batch of
    negatives all predicted right would then show f1 falling from 0.98 to 0 and breach
    a gate. An undefined metric is shown as undefined and judges no gate."""
    positives, called = bool(y.any()), bool(predicted.any())
    if metric in ("roc_auc", "log_loss") and len(set(y.tolist())) < 2:
        return "undefined: the labels hold one class"
    if metric == "precision" and not called:
        return "undefined: the model predicted no positives"
    if metric == "recall" and not positives:
        return "undefined: the labels hold no positives"
    if metric == "f1" and not positives and not called:
        return "undefined: neither the labels nor the predictions hold a positive"
    return ""


def compute(
    names: list[tuple[str, str, float]], y: np.ndarray, scores: np.ndarray, threshold: float
) -> list[Metric]:
    functions = _metric_functions()
    predicted = scores >= threshold
    out = []
    for path, name, recorded in names:
        metric = name.rsplit(".", 1)[-1]
        func = functions.get(metric)
        if func is None:
            out.append(Metric(path, name, recorded, None, "tether cannot compute this metric"))
            continue
        undefined = _undefined(metric, y, predicted)
        if undefined:
            out.append(Metric(path, name, recorded, None, undefined))
            continue
        out.append(Metric(path, name, recorded, float(func(y, scores, threshold))))
    return out


def gates(
    metrics: list[Metric], rules: list[str], lower_is_better: tuple[str, ...], label: str
) -> tuple[list[Verdict], dict[str, str]]:
    """The verdicts of the rules on ``metrics``, and a line for each rule left out
    because its metric is undefined on this batch (a rule on a metric tether cannot
    compute, or one the release never recorded, still fails)."""
    diff = MetricsDiff(a="release", b=label)
    diff.rows = [Row(METRICS, m.path, m.name, m.recorded, m.value) for m in metrics]
    undefined = {
        (m.path, m.name): m.note
        for m in metrics
        if m.value is None and m.note.startswith("undefined")
    }
    judged: list[str] = []
    skipped: dict[str, str] = {}
    for rule in rules:
        row = find_row(diff, parse_rule(rule).metric)
        note = undefined.get((row.path, row.key)) if row is not None else None
        if row is not None and note:
            skipped[rule] = f"skip {row.key}: {note} on {label}, so gate `{rule}` is not judged"
        else:
            judged.append(rule)
    return evaluate_gates(diff, judged, lower_is_better), skipped


def split(frame: pd.DataFrame, chunk: int | None, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if chunk is not None and by is not None:
        raise UsageError("give --chunk or --by, not both")
    if chunk is not None:
        if chunk < 1:
            raise UsageError(f"--chunk must be a positive number of rows, got {chunk}")
        return [
            (
                f"rows {start + 1}-{min(start + chunk, len(frame))}",
                frame.iloc[start : start + chunk],
            )
            for start in range(0, len(frame), chunk)
        ]
    if by is not None:
        if by not in frame.columns:
            raise UsageError(
                f"--by names column {by!r}, which the batch does not have",
                f"Columns: {', '.join(map(str, frame.columns[:10]))}.",
            )
        if frame[by].isna().any():
            raise UsageError(f"column {by!r} has empty values, so some rows belong to no chunk")
        return [(str(key), part) for key, part in frame.groupby(by, sort=True)]
    return []


@dataclass
class _Scored:
    """A labelled batch and the release's model's scores on it."""

    ref: str
    found: reference.Reference
    frame: pd.DataFrame
    target: str
    y: np.ndarray
    scores: np.ndarray
    threshold: float
    names: list[tuple[str, str, float]]  # the metrics the release recorded

    @property
    def release(self) -> str:
        return f"{self.found.record.artifact} {self.found.record.version}"

    def drift(self, part: pd.DataFrame, part_scores: np.ndarray) -> drift.DriftReport:
        found = self.found
        return drift.compare(
            found.profile,
            part,
            found.config,
            part_scores,
            exact=True,
            ref=self.ref,
            release=self.release,
            origin=found.origin,
        )


def _score(root: Path, ref: str, batch: Path, target: str | None, by: str | None) -> _Scored:
    frame = data.read_csv(batch, "batch")
    found = reference.load(root, ref)
    manifest = found.manifest
    target = target or found.profile.target
    if target is None:
        raise UsageError(
            "no target column is configured for this release",
            "Name the label column with --target COLUMN.",
        )
    y = labels_of(frame, target)
    features = frame.drop(columns=[target])
    if by is not None and by in features.columns and by not in found.profile.columns:
        features = features.drop(columns=[by])
    names = recorded_metrics(manifest.metrics)
    if not names:
        raise UsageError(
            f"{found.record.artifact} {found.record.version} recorded no metrics to compare with",
            "Declare the evaluate stage's metrics file in dvc.yaml, then release again.",
        )
    scores = reference.predict(reference.load_model(root, manifest), features)
    threshold = reference.decision_threshold(found.config, manifest.params)
    return _Scored(ref, found, frame, target, y, scores, threshold, names)


def _chunk(
    scored: _Scored,
    label: str,
    part: pd.DataFrame,
    rules: list[str],
    lower_is_better: tuple[str, ...],
) -> Chunk:
    idx = scored.frame.index.get_indexer(part.index)
    part_metrics = compute(scored.names, scored.y[idx], scored.scores[idx], scored.threshold)
    part_drift = scored.drift(part, scored.scores[idx])
    part_verdicts, part_skipped = gates(part_metrics, rules, lower_is_better, label)
    return Chunk(
        label,
        len(part),
        {m.name: m.value for m in part_metrics},
        [c.column for c in part_drift.drifted],
        len(part_drift.tested),
        part_drift.share,
        part_drift.dataset_drift,
        [v.rule for v in part_verdicts if not v.passed],
        list(part_skipped),
    )


def perf(
    root: Path,
    ref: str,
    batch: Path,
    target: str | None = None,
    rules: list[str] | None = None,
    chunk: int | None = None,
    by: str | None = None,
) -> PerfReport:
    """The release's model on a labelled batch, against what the release recorded."""
    scored = _score(root, ref, batch, target, by)
    config = load_config(root)
    rules = list(rules) if rules else list(config.fail_on)
    metrics = compute(scored.names, scored.y, scored.scores, scored.threshold)
    verdicts, skipped = gates(metrics, rules, config.lower_is_better, "batch")
    chunks = [
        _chunk(scored, label, part, rules, config.lower_is_better)
        for label, part in split(scored.frame, chunk, by)
    ]
    return PerfReport(
        ref,
        scored.release,
        len(scored.frame),
        scored.target,
        scored.threshold,
        metrics,
        verdicts,
        scored.drift(scored.frame, scored.scores),
        chunks,
        f"{chunk} rows" if chunk is not None else (by or ""),
        list(skipped.values()),
    )
