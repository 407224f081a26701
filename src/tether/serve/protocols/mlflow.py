"""MLflow's scoring protocol: ``POST /invocations``.

JSON bodies carry exactly one of ``dataframe_split``, ``dataframe_records``,
``instances`` or ``inputs`` (and optionally ``params``); ``text/csv`` bodies are a
table with a header row. The answer is ``{"predictions": [...]}``, plus
``"probabilities"`` (one list per row, in the order of ``"classes"``) when asked
for with ``params: {"probabilities": true}`` or ``?probabilities=true``. Errors are
``{"error_code": ..., "message": ...}`` with 400 (413 for a body or batch over its
cap, 415 for another content type), as MLflow's scoring server answers.

Each format is parsed by its own small function into columns; the schema checks
them (tether.serve.schema).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.serve.model import Prediction
from tether.serve.schema import RequestRejected, Schema, load_json

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = ("application/json", "text/csv")

Columns = dict[str, list[Any]]


@dataclass(frozen=True)
class Request:
    columns: Columns
    params: dict[str, Any]


def error_body(message: str, status: int) -> dict[str, str]:
    code = {413: "RESOURCE_LIMIT_EXCEEDED", 415: "BAD_REQUEST"}.get(status, "BAD_REQUEST")
    return {"error_code": code, "message": message}


def parse(body: bytes, content_type: str, schema: Schema) -> Request:
    """The columns (and params) of an /invocations body."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/csv":
        return Request(_csv(body, schema), {})
    if kind != "application/json":
        raise RequestRejected(
            f"content type {content_type or '(none)'!r} is not supported; send "
            f"{' or '.join(CONTENT_TYPES)}",
            415,
        )
    data = load_json(body)
    if not isinstance(data, dict):
        raise RequestRejected(f"the JSON body must be an object with one of {', '.join(FORMATS)}")
    given = [key for key in FORMATS if key in data]
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        raise RequestRejected(
            f"the body must hold exactly one of {', '.join(FORMATS)} (found: {found})"
        )
    extra = [key for key in data if key not in (*FORMATS, "params")]
    if extra:
        raise RequestRejected(f"unknown field(s) {', '.join(map(repr, extra))} in the body")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise RequestRejected("params must be an object")
    return Request(PARSERS[given[0]](data[given[0]], schema), params)


def _split(value: Any, schema: Schema) -> Columns:
    """``{"columns": [...], "data": [[...], ...]}`` (pandas' split orient; ``index`` ignored)."""
    if not isinstance(value, dict) or "data" not in value:
        raise RequestRejected('dataframe_split must be an object with "columns" and "data"')
    rows = value["data"]
    names = value.get("columns")
    if not isinstance(rows, list):
        raise RequestRejected("dataframe_split.data must be a list of rows")
    if names is None:
        return schema.from_rows(rows, "dataframe_split")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RequestRejected("dataframe_split.columns must be a list of column names")
    if len(set(names)) != len(names):
        raise RequestRejected("dataframe_split.columns names a column twice")
    out: Columns = {name: [] for name in names}
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise RequestRejected(
                f"dataframe_split.data row {i} must be a list of {len(names)} values, one per column"
            )
        for name, cell in zip(names, row, strict=True):
            out[name].append(cell)
    return out


def _records(value: Any, schema: Schema) -> Columns:
    """``[{"column": value, ...}, ...]`` (pandas' records orient)."""
    if not isinstance(value, list):
        raise RequestRejected("dataframe_records must be a list of records")
    return schema.from_records(value, "dataframe_records")


def _tensor_like(value: Any, schema: Schema, field: str) -> Columns:
    """``instances`` and ``inputs``: a list of records, a list of rows in the
    trained column order, or an object of column -> list of values."""
    if isinstance(value, dict):
        out: Columns = {}
        for name, cells in value.items():
            out[name] = cells if isinstance(cells, list) else [cells]
        return out
    if not isinstance(value, list):
        raise RequestRejected(f"{field} must be a list of rows or records, or an object of columns")
    if value and all(isinstance(item, dict) for item in value):
        return schema.from_records(value, field)
    return schema.from_rows(value, field)


def _instances(value: Any, schema: Schema) -> Columns:
    return _tensor_like(value, schema, "instances")


def _inputs(value: Any, schema: Schema) -> Columns:
    return _tensor_like(value, schema, "inputs")


PARSERS: dict[str, Callable[[Any, Schema], Columns]] = {
    "dataframe_split": _split,
    "dataframe_records": _records,
    "instances": _instances,
    "inputs": _inputs,
}


def _csv(body: bytes, schema: Schema) -> Columns:
    """A CSV table with a header row; cells are converted by their column's kind."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestRejected(f"the CSV body is not UTF-8: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise RequestRejected("the CSV body has no header row")
    kinds = {c.name: c.kind for c in schema.columns}
    out: Columns = {name: [] for name in header}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise RequestRejected(
                f"CSV line {line} has {len(row)} cells; the header has {len(header)}"
            )
        for name, cell in zip(header, row, strict=True):
            out[name].append(_cell(cell, kinds.get(name), name, line))
    return out


def _cell(text: str, kind: str | None, name: str, line: int) -> Any:
    if text == "":
        return None
    if kind in ("number", "integer"):
        try:
            number = float(text)
        except ValueError:
            raise RequestRejected(
                f"column {name!r} takes a number; CSV line {line} holds {text[:40]!r}"
            ) from None
        return int(number) if kind == "integer" and number.is_integer() else number
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise RequestRejected(
            f"column {name!r} takes true/false; CSV line {line} holds {text[:40]!r}"
        )
    return text


def wants_probabilities(request: Request, query: str | None) -> bool:
    flag = request.params.get("probabilities", query)
    if isinstance(flag, str):
        return flag.lower() in ("1", "true", "yes")
    return bool(flag)


def answer(prediction: Prediction) -> dict[str, Any]:
    body: dict[str, Any] = {"predictions": prediction.labels}
    if prediction.probabilities is not None:
        body["probabilities"] = prediction.probabilities
        body["classes"] = prediction.classes
    return body
