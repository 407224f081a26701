"""The reference profile: what monitoring needs to know about a release's training
data and its model's predictions on it, in a small deterministic JSON document.

Per column: kind, dtype, rows, nulls, distinct values, mean, population standard
deviation, extremes, and then

- every value, when the column has at most 1000 non-null rows (the tests for small
  references then run exactly as on the raw data);
- the count of every value, when it has at most 100 distinct values, and for every
  categorical column (exact again: the rows are those values repeated);
- otherwise 1000 quantiles at the mid-points (k + 0.5) / 1000. They stand for the
  rows: a test reads them as 1000 points of equal mass. ``error`` is the
  Wasserstein distance between the rows and those points, divided by the standard
  deviation, measured when the profile is built: by the triangle inequality it
  bounds how far the normed Wasserstein distance computed from the profile can be
  from the one computed on the rows.

The bytes are canonical (sorted keys, no spaces, floats as Python's shortest
repr), so the same data always gives the same profile and the same md5.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import UsageError
from tether.monitor import data
from tether.monitor.stattests import CAT, NUM, SMALL_REFERENCE, Sample

SCHEMA = 1
QUANTILES = 1000
MAX_COUNTED = 100  # distinct numeric values up to which every value is counted
PREDICTION = "prediction"


@dataclass(frozen=True, eq=False)
class ColumnProfile:
    name: str
    kind: str
    dtype: str
    count: int  # non-null rows
    nulls: int
    distinct: int
    mean: float | None = None
    std: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    values: list[Any] | None = None
    counts: list[list[Any]] | None = None  # [[value, rows], ...] sorted by value
    quantiles: list[float] | None = None
    error: float = 0.0
    # The raw non-null values when the profile was built from rows in this process
    # (exact mode); never serialised.
    raw: np.ndarray | None = field(default=None, repr=False)

    def sample(self, exact: bool = True) -> Sample:
        """This column as the tests read it: the raw rows when held and ``exact``,
        else the rows rebuilt from values or counts, else the quantiles."""
        numeric = self.kind == NUM
        dtype = np.float64 if numeric else object
        given = None
        if self.counts is not None:
            given = {k: int(c) for k, c in self.counts}
        common: dict[str, Any] = {
            "std": self.std,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "distinct_count": self.distinct,
            "given_counts": given,
        }
        if self.raw is not None and exact:
            return Sample(self.kind, self.count, values=self.raw, **common)
        if self.values is not None:
            return Sample(
                self.kind, self.count, values=np.array(self.values, dtype=dtype), **common
            )
        if self.counts is not None:
            keys = np.array([k for k, _ in self.counts], dtype=dtype)
            values = np.repeat(keys, [c for _, c in self.counts]) if numeric else keys
            return Sample(self.kind, self.count, values=values, **common)
        return Sample(
            self.kind,
            self.count,
            quantiles=np.array(self.quantiles, dtype=np.float64),
            error=self.error,
            **common,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "dtype": self.dtype,
            "count": self.count,
            "nulls": self.nulls,
            "distinct": self.distinct,
        }
        for key in ("mean", "std", "minimum", "maximum", "values", "counts", "quantiles"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.quantiles is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ColumnProfile:
        keys = set(cls.__dataclass_fields__) - {"name", "raw"}
        return cls(name=name, **{k: v for k, v in data.items() if k in keys})


def _float(value: Any) -> float:
    return float(value)


def profile_column(
    name: str, series: pd.Series, kind: str, summarise: bool = True
) -> ColumnProfile:
    """The profile of one column's rows (kept in ``raw`` for exact tests).

    ``summarise=False`` skips the quantiles and their error bound: for a profile
    used only in this process, on its rows.
    """
    from scipy import stats

    cleaned = data.clean(series, kind)
    values = cleaned.values
    nulls = cleaned.nulls + cleaned.unparsable
    dtype = str(series.dtype)
    if kind == CAT:
        counted = data.value_counts(values)
        return ColumnProfile(
            name,
            kind,
            dtype,
            len(values),
            nulls,
            len(counted),
            counts=[[k, counted[k]] for k in sorted(counted, key=str)],
            raw=values,
        )
    if len(values) == 0:
        return ColumnProfile(name, kind, dtype, 0, nulls, 0, raw=values)
    ordered = np.sort(values)
    distinct = int(np.count_nonzero(np.diff(ordered))) + 1
    std = _float(np.std(values))
    small = len(values) <= SMALL_REFERENCE
    few = distinct <= MAX_COUNTED
    quantiles = None
    error = 0.0
    counts = None
    if few and not small:
        keys, tallies = np.unique(ordered, return_counts=True)
        counts = [[_float(k), int(c)] for k, c in zip(keys, tallies, strict=True)]
    if summarise and not small and not few:
        points = np.quantile(ordered, (np.arange(QUANTILES) + 0.5) / QUANTILES)
        quantiles = [_float(q) for q in points]
        error = _float(stats.wasserstein_distance(ordered, points)) / max(std, 0.001)
    return ColumnProfile(
        name,
        kind,
        dtype,
        len(values),
        nulls,
        distinct,
        mean=_float(np.mean(values)),
        std=std,
        minimum=_float(ordered[0]),
        maximum=_float(ordered[-1]),
        values=[_float(v) for v in ordered] if small and summarise else None,
        counts=counts,
        quantiles=quantiles,
        error=error,
        raw=ordered,
    )


@dataclass(frozen=True, eq=False)
class Profile:
    """A release's reference: its training data's columns and its predictions."""

    rows: int
    target: str | None
    columns: dict[str, ColumnProfile]
    prediction: ColumnProfile | None = None
    source: dict[str, str] = field(default_factory=dict)  # path, md5 of the data
    model: dict[str, str] = field(default_factory=dict)  # path, md5 of the model
    categorical: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "rows": self.rows,
            "target": self.target,
            "source": self.source,
            "model": self.model,
            "categorical": list(self.categorical),
            "columns": {name: col.to_dict() for name, col in self.columns.items()},
            "order": list(self.columns),
            "prediction": self.prediction.to_dict() if self.prediction else None,
        }

    def to_bytes(self) -> bytes:
        return canonical(self.to_dict())

    @property
    def md5(self) -> str:
        return hashlib.md5(self.to_bytes(), usedforsecurity=False).hexdigest()

    @property
    def features(self) -> list[str]:
        return [name for name in self.columns if name != self.target]

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> Profile:
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise UsageError(f"{where} is not a reference profile: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise UsageError(
                f"{where} is not a reference profile this tether reads (schema {SCHEMA})",
                "Upgrade tether, or rebuild it with `tether monitor drift REF DATA --reference FILE`.",
            )
        prediction = doc.get("prediction")
        return cls(
            rows=int(doc["rows"]),
            target=doc.get("target"),
            columns={
                n: ColumnProfile.from_dict(n, doc["columns"][n])
                for n in doc.get("order") or sorted(doc["columns"])
            },
            prediction=ColumnProfile.from_dict(PREDICTION, prediction) if prediction else None,
            source=dict(doc.get("source") or {}),
            model=dict(doc.get("model") or {}),
            categorical=tuple(doc.get("categorical") or ()),
        )


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def build(
    frame: pd.DataFrame,
    target: str | None,
    categorical: frozenset[str] = frozenset(),
    predictions: np.ndarray | None = None,
    source: dict[str, str] | None = None,
    model: dict[str, str] | None = None,
    summarise: bool = True,
) -> Profile:
    """The profile of ``frame`` (every column, the target included) and of the
    model's ``predictions`` on it."""
    if len(frame) == 0:
        raise UsageError("the reference data has no rows", "Release a model trained on data.")
    columns = {
        str(name): profile_column(
            str(name), frame[name], data.kind_of(frame[name], categorical), summarise
        )
        for name in frame.columns
    }
    prediction = None
    if predictions is not None:
        series = pd.Series(predictions, name=PREDICTION)
        prediction = profile_column(PREDICTION, series, data.kind_of(series), summarise)
    return Profile(
        rows=len(frame),
        target=target,
        columns=columns,
        prediction=prediction,
        source=dict(source or {}),
        model=dict(model or {}),
        categorical=tuple(sorted(categorical)),
    )
