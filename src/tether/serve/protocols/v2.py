"""The Open Inference Protocol (KServe V2), REST over JSON.

``POST /v2/models/{name}/infer`` takes ``inputs``, a list of tensors
``{"name", "shape", "datatype", "data"}``, in one of two layouts:

- one tensor per column, named as the column, shape ``[rows]`` or ``[rows, 1]``
  (what MLServer's pandas codec sends, ``parameters.content_type: "pd"``);
- one tensor of shape ``[rows, features]`` holding the columns in the trained
  order (features must be numbers then).

``data`` may be flat (row-major) or nested; its size must equal the shape's.
Outputs are ``predict`` (the labels) and ``predict_proba`` (shape
``[rows, classes]``), both unless ``outputs`` names some. Errors are
``{"error": "..."}`` with 400, 404 for an unknown model or version, 413 past a cap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from tether.serve.model import Prediction, Served
from tether.serve.schema import FLOAT_MAX, RequestRejected, Schema, load_json

OUTPUTS = ("predict", "predict_proba")
NUMBER_TYPES = {
    "FP16", "FP32", "FP64",
    "INT8", "INT16", "INT32", "INT64",
    "UINT8", "UINT16", "UINT32", "UINT64",
}  # fmt: skip
INTEGER_TYPES = {t for t in NUMBER_TYPES if "INT" in t}
ACCEPTS = {
    "number": NUMBER_TYPES,
    "integer": INTEGER_TYPES,
    "string": {"BYTES"},
    "boolean": {"BOOL"},
}
WIRE_TYPE = {"number": "FP64", "integer": "INT64", "string": "BYTES", "boolean": "BOOL"}

Columns = dict[str, list[Any]]


def error_body(message: str) -> dict[str, str]:
    return {"error": message}


# The range of each V2 integer datatype; a value outside it is refused, as a
# server that packs the tensor into that type would have to.
INTEGER_RANGES = {
    f"{'U' if unsigned else ''}INT{bits}": (
        (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    for bits in (8, 16, 32, 64)
    for unsigned in (False, True)
}
FLOAT_LIMITS = {"FP16": 65504.0, "FP32": 3.4028234663852886e38, "FP64": FLOAT_MAX}


def _flat(data: Any) -> list[Any]:
    """Row-major values of nested lists (the protocol allows both forms); iterative,
    so data nested deep cannot exhaust the stack."""
    if not isinstance(data, list):
        return [data]
    out: list[Any] = []
    stack: list[Iterator[Any]] = [iter(data)]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            out.append(item)
    return out


_END = object()


def _check_values(name: str, datatype: str, data: list[Any]) -> None:
    """Each value a number of ``datatype`` and inside its range (nulls pass: the
    schema says whether a column may miss values)."""
    integer = datatype in INTEGER_RANGES
    if not integer and datatype not in FLOAT_LIMITS:
        return
    for value in data:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            carries = "integers" if integer else "numbers"
            raise RequestRejected(
                f"input {name!r}: datatype {datatype} carries {carries}; found "
                f"{json.dumps(value)[:40]}"
            )
        if integer:
            low, high = INTEGER_RANGES[datatype]
            fits, bounds = low <= value <= high, f" ({low} to {high})"
        else:
            finite = not isinstance(value, float) or math.isfinite(value)
            fits, bounds = not finite or abs(value) <= FLOAT_LIMITS[datatype], ""
        if not fits:
            shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:40]}..."
            raise RequestRejected(f"input {name!r}: {shown} does not fit {datatype}{bounds}")


def _tensor(raw: Any, index: int) -> tuple[str, list[int], str, list[Any]]:
    if not isinstance(raw, dict):
        raise RequestRejected(f"inputs[{index}] must be an object with name, shape, datatype, data")
    missing = [key for key in ("name", "shape", "datatype", "data") if key not in raw]
    if missing:
        raise RequestRejected(f"inputs[{index}] has no {', '.join(missing)}")
    name, shape, datatype = raw["name"], raw["shape"], raw["datatype"]
    if not isinstance(name, str):
        raise RequestRejected(f"inputs[{index}].name must be a string")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise RequestRejected(f"input {name!r}: shape must be a list of non-negative integers")
    if not isinstance(datatype, str) or datatype not in NUMBER_TYPES | {"BYTES", "BOOL"}:
        raise RequestRejected(f"input {name!r}: datatype {datatype!r} is not a V2 datatype")
    data = _flat(raw["data"])
    size = 1
    for dim in shape:
        size *= dim
    if size != len(data):
        raise RequestRejected(
            f"input {name!r}: shape {shape} holds {size} values but data has {len(data)}"
        )
    _check_values(name, datatype, data)
    return name, shape, datatype, data


def parse(body: bytes, schema: Schema) -> tuple[Columns, list[str], Any, dict[str, Any]]:
    """``(columns, requested outputs, request id, parameters)`` of an infer body."""
    request = load_json(body)
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise RequestRejected('the body must be an object with a list "inputs"')
    tensors = [_tensor(raw, i) for i, raw in enumerate(request["inputs"])]
    if not tensors:
        raise RequestRejected('"inputs" is empty')
    outputs = _outputs(request.get("outputs"))
    parameters = request.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RequestRejected('"parameters" must be an object')
    kinds = {c.name: c.kind for c in schema.columns}
    if len(tensors) == 1 and tensors[0][0] not in kinds:
        columns = _matrix(tensors[0], schema)
    else:
        columns = {}
        for name, shape, datatype, data in tensors:
            if name in kinds:
                if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
                    raise RequestRejected(
                        f"input {name!r}: a column has shape [rows] or [rows, 1], not {shape}"
                    )
                _check_datatype(name, kinds[name], datatype)
            if name in columns:
                raise RequestRejected(f"input {name!r} is given twice")
            columns[name] = data
    return columns, outputs, request.get("id"), parameters


def _matrix(tensor: tuple[str, list[int], str, list[Any]], schema: Schema) -> Columns:
    name, shape, datatype, data = tensor
    width = len(schema.columns)
    if len(shape) != 2 or shape[1] != width:
        raise RequestRejected(
            f"input {name!r} is not a column of the model; as one tensor it must have "
            f"shape [rows, {width}], not {shape}"
        )
    if datatype not in NUMBER_TYPES or any(c.kind != "number" for c in schema.columns):
        raise RequestRejected(
            f"input {name!r}: one [rows, {width}] tensor carries numbers only; send one "
            "input per column for this model"
        )
    rows = [data[i : i + width] for i in range(0, len(data), width)]
    return schema.from_rows(rows, f"input {name!r}")


def _check_datatype(name: str, kind: str, datatype: str) -> None:
    if datatype not in ACCEPTS[kind]:
        raise RequestRejected(
            f"input {name!r}: column {name!r} takes {kind} values; datatype {datatype} does not "
            f"carry them (send {WIRE_TYPE[kind]})"
        )


def _outputs(raw: Any) -> list[str]:
    if raw is None:
        return list(OUTPUTS)
    if not isinstance(raw, list) or not all(isinstance(o, dict) and "name" in o for o in raw):
        raise RequestRejected('"outputs" must be a list of {"name": ...}')
    names = [o["name"] for o in raw]
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        raise RequestRejected(
            f"unknown output(s) {', '.join(map(repr, unknown))}; the model gives {', '.join(OUTPUTS)}"
        )
    return names


def _label_type(labels: list[Any]) -> str:
    if labels and all(isinstance(v, bool) for v in labels):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels):
        return "FP64"
    return "BYTES"


def answer(
    served: Served, prediction: Prediction, outputs: list[str], request_id: Any
) -> dict[str, Any]:
    rows = len(prediction.labels)
    tensors = []
    for name in outputs:
        if name == "predict":
            labels = prediction.labels
            tensors.append(
                {"name": name, "shape": [rows], "datatype": _label_type(labels), "data": labels}
            )
        else:
            proba = prediction.probabilities or []
            width = len(proba[0]) if proba else len(prediction.classes)
            flat = [p for row in proba for p in row]
            tensors.append({"name": name, "shape": [rows, width], "datatype": "FP64", "data": flat})
    body: dict[str, Any] = {
        "model_name": served.release.artifact,
        "model_version": served.release.version,
        "outputs": tensors,
    }
    if request_id is not None:
        body["id"] = request_id
    return body


def metadata(served: Served) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the model's inputs and outputs."""
    classes = list(served.schema.classes)
    return {
        "name": served.release.artifact,
        "versions": [served.release.version],
        "platform": "sklearn",
        "inputs": [
            {"name": c.name, "datatype": WIRE_TYPE[c.kind], "shape": [-1, 1]}
            for c in served.schema.columns
        ],
        "outputs": [
            {"name": "predict", "datatype": _label_type(classes), "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes) or -1]},
        ],
        "parameters": {"content_type": "pd"},
    }
