"""The input schema a model was trained on, and the check every request passes.

The training stage writes ``schema.json`` beside the model (column names in the
order the model was fitted on, the kind of each, the classes). A release made
before that has no schema: then the columns are taken from the model itself
(scikit-learn's ``feature_names_in_``), every one as a number, and ``/version``
says so.

Requests reach this module as columns (name -> list of values) whatever their
wire format; ``Schema.check`` checks names, kinds and sizes, and ``Schema.frame``
builds the frame the model predicts on. Every refusal is a ``RequestRejected``
naming the column, the row or the limit, which the app turns into the protocol's 4xx.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("number", "integer", "string", "boolean")


class RequestRejected(Exception):
    """A request the model cannot take; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of KINDS


@dataclass(frozen=True)
class Limits:
    """Caps on one request: the body's size (413 past it), its rows, and the seconds
    its body may take to arrive (408 past them: a client that sends a byte a
    second would otherwise hold a connection and a worker slot forever)."""

    max_body_bytes: int = 8 * 1024 * 1024
    max_rows: int = 10_000
    body_seconds: float = 30.0


@dataclass(frozen=True)
class Schema:
    columns: tuple[Column, ...]
    classes: tuple[Any, ...] = ()
    source: str = "recorded"  # "recorded" (schema.json) or "derived from the model"
    names: tuple[str, ...] = field(init=False)
    kinds: dict[str, str] = field(init=False, compare=False, repr=False)  # name -> kind

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(c.name for c in self.columns))
        object.__setattr__(self, "kinds", {c.name: c.kind for c in self.columns})

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "columns": [{"name": c.name, "kind": c.kind} for c in self.columns],
            "classes": list(self.classes),
        }

    # --- building a frame -----------------------------------------------------

    def check(self, columns: Mapping[str, Sequence[Any]], limits: Limits) -> None:
        """Check every value of ``columns`` against its column's kind. Refuses unknown
        or missing columns, columns of unequal length, a wrong kind, and more rows than
        the cap."""
        unknown = [name for name in columns if name not in self.kinds]
        if unknown:
            raise RequestRejected(
                f"unknown column(s) {_quoted(unknown)}; the model takes {_quoted(self.names)}"
            )
        missing = [name for name in self.names if name not in columns]
        if missing:
            raise RequestRejected(f"missing column(s) {_quoted(missing)}")
        lengths = {len(columns[name]) for name in self.names}
        if len(lengths) > 1:
            raise RequestRejected(
                "columns have different numbers of rows: "
                + ", ".join(f"{n!r}: {len(columns[n])}" for n in self.names[:5])
            )
        rows = lengths.pop() if lengths else 0
        if rows == 0:
            raise RequestRejected("the request holds no rows")
        if rows > limits.max_rows:
            raise RequestRejected(
                f"{rows} rows is over the limit of {limits.max_rows} rows per request "
                "(--max-rows); send smaller batches",
                413,
            )
        for column in self.columns:
            _check_kind(column, columns[column.name])

    def frame(self, columns: Mapping[str, Sequence[Any]]) -> Any:
        """A pandas frame in the trained column order from ``columns`` that ``check``
        passed. Null is NaN for every kind: scikit-learn's imputers do not see None."""
        import numpy as np
        import pandas as pd

        data: dict[str, Any] = {}
        for column in self.columns:
            filled = cells(column.kind, columns[column.name])
            if column.kind == "number":
                data[column.name] = np.asarray(filled, dtype=np.float64)
            else:
                data[column.name] = pd.Series(filled, dtype=object)
        return pd.DataFrame(data, columns=list(self.names))

    def warm_up_row(self) -> dict[str, list[Any]]:
        """One harmless row (zeros, false, missing strings) to warm a model with."""
        fill = {"number": 0.0, "integer": 0, "boolean": False, "string": None}
        return {c.name: [fill[c.kind]] for c in self.columns}

    def from_rows(self, rows: Sequence[Any], what: str) -> dict[str, list[Any]]:
        """Columns from rows that are lists in the trained column order."""
        width = len(self.names)
        out: list[list[Any]] = [[] for _ in range(width)]
        for i, row in enumerate(rows):
            if not isinstance(row, list):
                raise RequestRejected(f"{what} row {i} is not a list of values")
            if len(row) != width:
                raise RequestRejected(
                    f"{what} row {i} has {len(row)} values; the model takes {width} "
                    f"columns ({_quoted(self.names[:3])}{', ...' if width > 3 else ''})"
                )
            for j, value in enumerate(row):
                out[j].append(value)
        return dict(zip(self.names, out, strict=True))

    def from_records(self, records: Sequence[Any], what: str) -> dict[str, list[Any]]:
        """Columns from records (one mapping of column -> value per row)."""
        if not records:
            return {name: [] for name in self.names}
        out: dict[str, list[Any]] = {}
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise RequestRejected(f"{what} record {i} is not an object of column: value")
            if i == 0:
                out = {name: [] for name in record}
            elif record.keys() != out.keys():
                absent = [n for n in out if n not in record] or [n for n in record if n not in out]
                raise RequestRejected(
                    f"{what} record {i} has other columns than record 0 ({_quoted(absent)})"
                )
            for name, value in record.items():
                out[name].append(value)
        return out


def cells(kind: str, values: Sequence[Any]) -> list[Any]:
    """A checked column's values as the model takes them: null is NaN for every kind
    (scikit-learn's imputers do not see None), an integer column's 2.0 is 2."""
    if kind == "integer":
        return [math.nan if v is None else int(v) for v in values]
    return [math.nan if v is None else v for v in values]


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


# A JSON integer has any number of digits; a model takes 64-bit floats and integers.
FLOAT_MAX = sys.float_info.max
INT64 = (-(2**63), 2**63 - 1)


def _shown(value: Any) -> str:
    """A value in a message: at most 40 characters (a 401-digit integer is cut)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if text is None:
        text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"


def load_json(body: bytes) -> Any:
    """A request body's JSON; RequestRejected (400) for what is not JSON, and for
    JSON nested deeper than Python's parser recurses (a RecursionError, else a 500)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestRejected("the body's JSON is nested too deeply") from None
    except ValueError as exc:
        raise RequestRejected(f"the body is not valid JSON: {exc}") from None


def _fits(kind: str, value: int | float) -> bool:
    """Whether a number of the right type also fits what the model computes with."""
    if isinstance(value, int) and kind == "integer":
        return INT64[0] <= value <= INT64[1]
    return isinstance(value, float) or -FLOAT_MAX <= value <= FLOAT_MAX


def _check_kind(column: Column, values: Sequence[Any]) -> None:
    """Every value of ``values`` is of ``column``'s kind, or null (missing)."""
    kind = column.kind
    for row, value in enumerate(values):
        if value is None:
            continue
        if kind == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif kind == "integer":
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer()
            )
        elif kind == "string":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, bool)
        if not ok:
            raise RequestRejected(
                f"column {column.name!r} takes {_article(kind)}; row {row} holds "
                f"{_shown(value)} ({type(value).__name__})"
            )
        if kind in ("number", "integer") and not _fits(kind, value):
            limit = "a 64-bit integer" if kind == "integer" else "a 64-bit float"
            raise RequestRejected(
                f"column {column.name!r}: row {row} holds {_shown(value)}, "
                f"which does not fit {limit}"
            )


def _article(kind: str) -> str:
    return {"integer": "an integer", "boolean": "a boolean (true/false)"}.get(kind, f"a {kind}")


# --- reading a schema ------------------------------------------------------------


def parse(data: bytes, path: str) -> Schema:
    """The schema in a ``schema.json`` written by the training stage."""
    try:
        raw = json.loads(data)
        columns = tuple(Column(str(c["name"]), str(c["kind"])) for c in raw["columns"])
        classes = tuple(raw.get("classes") or ())
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not an input schema: {exc}") from exc
    bad = [c.name for c in columns if c.kind not in KINDS]
    if bad or not columns:
        raise ValueError(f"{path}: columns {bad} have a kind other than {', '.join(KINDS)}")
    return Schema(columns, classes)


def derived(model: Any) -> Schema:
    """A schema from the model itself, for releases made before schemas were
    recorded: the fitted column names, each taken as a number."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        count = getattr(model, "n_features_in_", None)
        if count is None:
            raise ValueError("the model records neither its column names nor their number")
        names = [f"x{i}" for i in range(int(count))]
    classes = tuple(c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", ()))
    return Schema(
        tuple(Column(str(n), "number") for n in names),
        classes,
        source="derived from the model (no schema.json in this release): every column a number",
    )
