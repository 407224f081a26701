"""MLflow's scoring protocol and the Open Inference Protocol against a real uvicorn
server on 127.0.0.1: the documented request shapes give the model's own
predictions; malformed requests get the documented 4xx with a JSON error naming
the column or limit, never a 500."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.serve.conftest import ARTIFACT, Trained, release_for, thread_server


@pytest.fixture(scope="module")
def server(trained: Trained) -> Iterator[str]:
    from tether.serve.app import create_app
    from tether.serve.holder import Holder
    from tether.serve.model import load
    from tether.serve.schema import Limits

    served = load(release_for(trained), trained.model_bytes, trained.schema_bytes)
    app = create_app(
        Holder(served), limits=Limits(max_body_bytes=200_000, max_rows=50), ref=f"{ARTIFACT}#prod"
    )
    with thread_server(app) as url:
        yield url


def post(url: str, path: str, body: Any, content_type: str = "application/json") -> httpx.Response:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return httpx.post(url + path, content=data, headers={"Content-Type": content_type}, timeout=10)


def close(got: list[Any], want: list[Any]) -> bool:
    """Equal to the last few bits (a frame built row- or column-wise can sum in
    another order inside BLAS)."""
    import numpy as np

    return bool(np.allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12))


def expected(trained: Trained) -> tuple[list[int], list[list[float]]]:
    return (
        trained.model.predict(trained.frame).tolist(),
        trained.model.predict_proba(trained.frame).tolist(),
    )


# --- MLflow ------------------------------------------------------------------------


def test_mlflow_documented_shapes_give_the_models_predictions(server: str, trained: Trained):
    labels, proba = expected(trained)
    frame = trained.frame
    rows = frame.values.tolist()
    columns = list(frame.columns)
    bodies = {
        "dataframe_split": {"dataframe_split": frame.to_dict(orient="split")},
        "split without index": {"dataframe_split": {"columns": columns, "data": rows}},
        "dataframe_records": {"dataframe_records": frame.to_dict(orient="records")},
        "instances rows": {"instances": rows},
        "instances records": {"instances": frame.to_dict(orient="records")},
        "inputs columns": {"inputs": frame.to_dict(orient="list")},
        "inputs rows": {"inputs": rows},
    }
    for name, body in bodies.items():
        response = post(server, "/invocations", body)
        assert response.status_code == 200, (name, response.text)
        assert response.json() == {"predictions": labels}, name
        assert response.headers["X-Model-Version"] == f"{ARTIFACT}@v1.0.0"

    csv = frame.to_csv(index=False)
    response = post(server, "/invocations", csv, "text/csv")
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == labels

    asked = post(
        server, "/invocations", {**bodies["dataframe_split"], "params": {"probabilities": True}}
    )
    assert close(asked.json()["probabilities"], proba)
    assert asked.json()["classes"] == [0, 1]
    by_query = post(server, "/invocations?probabilities=true", csv, "text/csv")
    assert close(by_query.json()["probabilities"], proba)


def test_mlflow_malformed_requests_get_a_400_naming_the_problem(server: str, trained: Trained):
    frame = trained.frame
    records = frame.to_dict(orient="records")
    first = frame.columns[0]
    no_first = [{k: v for k, v in r.items() if k != first} for r in records]
    extra = [{**r, "shoe size": 44} for r in records]
    typed = [{**r, first: "large"} for r in records]
    cases = [
        ({"dataframe_records": no_first}, f"missing column(s) {first!r}"),
        ({"dataframe_records": extra}, "unknown column(s) 'shoe size'"),
        (
            {"dataframe_records": typed},
            f'column {first!r} takes a number; row 0 holds "large" (str)',
        ),
        ({"instances": [[1.0, 2.0]]}, "instances row 0 has 2 values; the model takes 30 columns"),
        (
            {"records": records},
            "exactly one of dataframe_split, dataframe_records, instances, inputs (found: none)",
        ),
        ({"inputs": [], "instances": []}, "(found: instances, inputs)"),
        (
            {"dataframe_split": {"columns": [first], "data": [[1.0, 2.0]]}},
            "row 0 must be a list of 1 values",
        ),
        ({"dataframe_records": []}, "the request holds no rows"),
        (b"{not json", "the body is not valid JSON"),
        ([1, 2], "must be an object"),
        # Once 500s: a RecursionError in the JSON parser, an OverflowError in float().
        (b"[" * 50_000 + b"]" * 50_000, "the body's JSON is nested too deeply"),
        (
            {"dataframe_records": [{**records[0], first: 10**400}]},
            f"column {first!r}: row 0 holds 1{'0' * 39}... (401 characters), which does not "
            "fit a 64-bit float",
        ),
    ]
    for body, words in cases:
        response = post(server, "/invocations", body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()
        assert error["error_code"] == "BAD_REQUEST"
        assert words in error["message"], (words, error["message"])

    csv = "a,b\n1,2\n"
    response = post(server, "/invocations", csv, "text/csv")
    assert (
        response.status_code == 400 and "unknown column(s) 'a', 'b'" in response.json()["message"]
    )
    wrong_type = post(server, "/invocations", "x=1", "application/x-www-form-urlencoded")
    assert wrong_type.status_code == 415
    assert "application/json or text/csv" in wrong_type.json()["message"]


def test_limits_answer_413_naming_the_limit(server: str, trained: Trained):
    rows = trained.frame.values.tolist()
    many = post(server, "/invocations", {"instances": rows * 10})  # 70 rows, cap 50
    assert many.status_code == 413
    assert "70 rows is over the limit of 50 rows per request (--max-rows)" in many.json()["message"]
    big = post(server, "/invocations", {"instances": rows, "pad": "x" * 300_000})
    assert big.status_code == 413
    assert "over the limit of 200000 bytes (--max-body-bytes)" in big.json()["message"]
    # a body sent in chunks without a Content-Length is cut off all the same
    chunks = (b"x" * 50_000 for _ in range(6))
    streamed = httpx.post(
        server + "/invocations", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


# --- Open Inference Protocol -------------------------------------------------------


def test_v2_documented_shapes_give_the_models_predictions(server: str, trained: Trained):
    labels, proba = expected(trained)
    frame = trained.frame
    n = len(frame)
    per_column = {  # as MLServer's pandas codec encodes a DataFrame
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": c, "shape": [n, 1], "datatype": "FP64", "data": frame[c].tolist()}
            for c in frame.columns
        ],
    }
    response = post(server, f"/v2/models/{ARTIFACT}/infer", {**per_column, "id": "req-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == ARTIFACT and body["model_version"] == "v1.0.0"
    assert body["id"] == "req-1"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predict"] == {
        "name": "predict",
        "shape": [n],
        "datatype": "INT64",
        "data": labels,
    }
    assert outputs["predict_proba"]["shape"] == [n, 2]
    assert close(outputs["predict_proba"]["data"], [p for row in proba for p in row])

    matrix = {
        "inputs": [
            {"name": "input-0", "shape": [n, 30], "datatype": "FP32", "data": frame.values.tolist()}
        ],
        "outputs": [{"name": "predict"}],
    }
    response = post(server, f"/v2/models/{ARTIFACT}/versions/v1.0.0/infer", matrix)
    assert response.status_code == 200, response.text
    assert [o["name"] for o in response.json()["outputs"]] == ["predict"]
    assert response.json()["outputs"][0]["data"] == labels
    flat = {"inputs": [{**matrix["inputs"][0], "data": frame.values.ravel().tolist()}]}
    assert post(server, f"/v2/models/{ARTIFACT}/infer", flat).json()["outputs"][0]["data"] == labels


def test_v2_metadata_and_health(server: str, trained: Trained):
    assert httpx.get(server + "/v2/health/live").json() == {"live": True}
    assert httpx.get(server + "/v2/health/ready").json() == {"ready": True}
    ready = httpx.get(f"{server}/v2/models/{ARTIFACT}/ready")
    assert ready.json() == {"name": ARTIFACT, "ready": True}
    meta = httpx.get(f"{server}/v2/models/{ARTIFACT}").json()
    assert meta["name"] == ARTIFACT and meta["versions"] == ["v1.0.0"]
    assert [i["name"] for i in meta["inputs"]] == list(trained.frame.columns)
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    missing = httpx.get(f"{server}/v2/models/other")
    assert missing.status_code == 404
    assert (
        "no model other here; this server serves cancer-classifier v1.0.0"
        in missing.json()["error"]
    )


def test_v2_malformed_requests_get_a_400_naming_the_problem(server: str, trained: Trained):
    frame = trained.frame
    n = len(frame)
    columns = [
        {"name": c, "shape": [n], "datatype": "FP64", "data": frame[c].tolist()}
        for c in frame.columns
    ]
    first = frame.columns[0]
    cases = [
        ({"inputs": columns[1:]}, f"missing column(s) {first!r}"),
        (
            {"inputs": [{**columns[0], "shape": [n + 1]}, *columns[1:]]},
            f"input {first!r}: shape [{n + 1}] holds {n + 1} values but data has {n}",
        ),
        (
            {"inputs": [{**columns[0], "datatype": "BYTES"}, *columns[1:]]},
            f"column {first!r} takes number values; datatype BYTES does not carry them",
        ),
        (
            {"inputs": [{**columns[0], "datatype": "FP128"}, *columns[1:]]},
            "datatype 'FP128' is not a V2 datatype",
        ),
        (
            {"inputs": [{"name": "x", "shape": [n, 3], "datatype": "FP64", "data": [0.0] * 3 * n}]},
            "shape [rows, 30], not [7, 3]",
        ),
        ({"inputs": columns, "outputs": [{"name": "transform"}]}, "unknown output(s) 'transform'"),
        ({"inputs": [{"name": first}]}, "inputs[0] has no shape, datatype, data"),
        ({"instances": []}, 'the body must be an object with a list "inputs"'),
        (
            {"inputs": [{**columns[0], "datatype": "INT8", "data": [100000] * n}, *columns[1:]]},
            f"input {first!r}: 100000 does not fit INT8 (-128 to 127)",
        ),
        (
            {"inputs": [{**columns[0], "datatype": "UINT8", "data": [-1] * n}, *columns[1:]]},
            f"input {first!r}: -1 does not fit UINT8 (0 to 255)",
        ),
        (
            {"inputs": [{**columns[0], "datatype": "INT64", "data": [1.5] * n}, *columns[1:]]},
            f"input {first!r}: datatype INT64 carries integers; found 1.5",
        ),
        (
            {"inputs": [{**columns[0], "datatype": "FP16", "data": [1e6] * n}, *columns[1:]]},
            f"input {first!r}: 1000000.0 does not fit FP16",
        ),
        (
            {"inputs": [{**columns[0], "data": [10**400] * n}, *columns[1:]]},
            f"input {first!r}: 1{'0' * 39}... does not fit FP64",
        ),
        (b'{"inputs": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
    ]
    for body, words in cases:
        response = post(server, f"/v2/models/{ARTIFACT}/infer", body)
        assert response.status_code == 400, (body, response.text)
        assert words in response.json()["error"], (words, response.json())
    wrong_version = post(
        server, f"/v2/models/{ARTIFACT}/versions/v9.9.9/infer", {"inputs": columns}
    )
    assert wrong_version.status_code == 404


# --- the rest ---------------------------------------------------------------------


def test_version_health_ping_and_metrics(server: str, trained: Trained):
    assert httpx.get(server + "/ping").status_code == 200
    version = httpx.get(server + "/version").json()
    assert version["artifact"] == ARTIFACT and version["version"] == "v1.0.0"
    assert version["ref"] == f"{ARTIFACT}#prod"
    assert version["model_md5"] == release_for(trained).model_md5
    assert version["schema"]["source"] == "recorded"
    assert version["predicting"].startswith("columns routed to the fitted steps")
    health = httpx.get(server + "/health")
    assert health.json()["status"] == "ok" and health.json()["serving"] == f"{ARTIFACT}@v1.0.0"
    assert health.headers["X-Model-Version"] == f"{ARTIFACT}@v1.0.0"
    post(server, "/invocations", {"instances": [[1.0]]})
    text = httpx.get(server + "/metrics").text
    assert 'tether_serve_requests_total{endpoint="invocations",status="400"}' in text
    assert 'tether_serve_request_duration_seconds_bucket{endpoint="invocations"' in text
    assert f'tether_serve_model_info{{artifact="{ARTIFACT}",md5="' in text
    assert "tether_serve_model_swaps_total 0.0" in text


def test_a_slow_body_is_cut_off_and_a_vanished_client_logs_no_error(
    trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    """A body sent a byte at a time held a connection forever; a client closing
    mid-body logged a traceback."""
    import logging
    import socket
    import time

    from tether.serve.app import create_app
    from tether.serve.holder import Holder
    from tether.serve.model import load
    from tether.serve.schema import Limits

    served = load(release_for(trained), trained.model_bytes, trained.schema_bytes)
    app = create_app(Holder(served), limits=Limits(body_seconds=1.0))
    head = (
        b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    caplog.set_level(logging.ERROR)
    # uvicorn's own loggers do not propagate to the root one caplog reads: the
    # traceback of a vanished client went to "uvicorn.error", so listen there too,
    # once the server has started (its logging set-up replaces their handlers).
    kept: list[logging.LogRecord] = []
    listener = logging.Handler(logging.ERROR)
    listener.emit = kept.append  # type: ignore[method-assign]
    uvicorn_logger = logging.getLogger("uvicorn")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(thread_server(app))
        uvicorn_logger.addHandler(listener)
        stack.callback(uvicorn_logger.removeHandler, listener)
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
            slow.sendall(head + b'{"instances": [')
            started = time.monotonic()
            answer = slow.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 408"), answer
        assert "did not arrive within 1 s" in answer
        assert time.monotonic() - started < 20

        with socket.create_connection(("127.0.0.1", port), timeout=30) as gone:
            gone.sendall(head + b'{"instances": [')
        time.sleep(0.5)
        labels, _ = expected(trained)
        rows = trained.frame.values.tolist()
        ok = post(url, "/invocations", {"instances": rows})
        assert ok.status_code == 200 and ok.json()["predictions"] == labels
    errors = [r for r in [*caplog.records, *kept] if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == []
