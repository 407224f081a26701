"""The FastAPI app, built around one model holder.

Every handler takes ``holder.current`` once and answers with that model, naming
it in ``X-Model-Version``; a swap during the request does not touch it. A small
request to a fast model (one row predicted in under 2 ms when it was loaded) is
answered on the event loop, where a hop to a thread would cost more than the work;
anything else is parsed and predicted in the threadpool, so it never stalls the
event loop (health checks, other requests, the swap). Input
problems become the protocol's 4xx JSON (never a traceback); the follower, if
any, is started and stopped by the app's lifespan.

Routes: MLflow's ``/invocations``, ``/ping``, ``/health``, ``/version``; the Open
Inference Protocol's ``/v2/...``; ``/metrics`` for Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from tether import __version__
from tether.serve.holder import Holder
from tether.serve.metrics import CONTENT_TYPE, Metrics, endpoint_of
from tether.serve.model import Served
from tether.serve.protocols import mlflow, v2
from tether.serve.schema import Limits, RequestRejected

HEADER = "X-Model-Version"
# Bodies up to this size (about 50 rows of 30 numbers) to a fast model are parsed
# and predicted on the event loop; larger ones in the threadpool.
INLINE_BODY_BYTES = 32 * 1024
access_log = logging.getLogger("tether.serve.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Follower(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def describe(self) -> dict[str, Any]: ...
    def stale(self) -> str | None: ...


def _json(data: Any, status: int = 200, served: Served | None = None) -> Response:
    headers = {HEADER: served.release.label} if served is not None else None
    body = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class Observe:
    """Pure ASGI middleware: metrics, the structured access log, and the model
    version header on answers that did not set it themselves."""

    def __init__(self, app: Any, holder: Holder, metrics: Metrics) -> None:
        self.app = app
        self.holder = holder
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        seen: dict[str, Any] = {"status": 500, "version": None}

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                headers = list(message.get("headers") or [])
                version = next((v for k, v in headers if k.lower() == b"x-model-version"), None)
                if version is None:
                    version = self.holder.current.release.label.encode()
                    headers.append((b"x-model-version", version))
                    message["headers"] = headers
                seen["version"] = version.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - start
            path = scope.get("path", "")
            self.metrics.observe(endpoint_of(path), seen["status"], seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("", 0)
                line = {
                    "time": round(time.time(), 3),
                    "client": client[0],
                    "method": scope.get("method"),
                    "path": path,
                    "status": seen["status"],
                    "ms": round(seconds * 1000, 3),
                    "version": seen["version"],
                }
                access_log.info(json.dumps(line))


async def _body(request: Request, limits: Limits) -> bytes:
    """The request body, refused with 413 once it passes the cap (the declared
    length is checked before anything is read) and with 408 when it is still
    arriving after ``limits.body_seconds``. A client gone mid-body is answered
    quietly (nobody reads the answer), not logged as a server error."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise RequestRejected(
            f"the body of {declared} bytes is over the limit of {limits.max_body_bytes} bytes "
            "(--max-body-bytes)",
            413,
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise RequestRejected(
                        f"the body is over the limit of {limits.max_body_bytes} bytes "
                        "(--max-body-bytes)",
                        413,
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise RequestRejected(
            f"the body did not arrive within {limits.body_seconds:g} s ({size} bytes came)",
            408,
        ) from None
    except ClientDisconnect:
        raise RequestRejected(
            "the client closed the connection before its body arrived", 400
        ) from None
    return b"".join(chunks)


async def _answer(work: Callable[[], Any], served: Served, body: bytes) -> Any:
    """``work()``: on the event loop for a small body to a fast model (``Served.inline``),
    else in the threadpool."""
    if served.inline and len(body) <= INLINE_BODY_BYTES:
        return work()
    return await run_in_threadpool(work)


def _predict(served: Served, columns: dict[str, list[Any]], limits: Limits, proba: bool) -> Any:
    served.schema.check(columns, limits)
    try:
        return served.predict(columns, probabilities=proba)
    except RequestRejected:
        raise
    except (ValueError, TypeError) as exc:
        # the schema let the values through but the model refuses them (a NaN
        # where the pipeline has no imputer...): the input's fault, said as such
        raise RequestRejected(f"the model refused the input: {exc}") from exc


def create_app(
    holder: Holder,
    *,
    limits: Limits | None = None,
    follower: Follower | None = None,
    metrics: Metrics | None = None,
    ref: str | None = None,
) -> FastAPI:
    """The app serving ``holder``'s model; ``follower`` runs for the app's life."""
    limits = limits or Limits()
    metrics = metrics or Metrics()
    metrics.serving(None, holder.current)
    holder.on_swap.append(metrics.serving)
    app = FastAPI(
        title="tether serve",
        version=__version__,
        lifespan=_lifespan(follower),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.holder = holder
    app.state.metrics = metrics
    _mlflow_routes(app, holder, limits)
    _status_routes(app, holder, metrics, follower, ref)
    _v2_routes(app, holder, limits)
    app.add_middleware(Observe, holder=holder, metrics=metrics)
    return app


def _lifespan(follower: Follower | None) -> Callable[[FastAPI], Any]:
    """Start the follower with the app, stop it when the app stops."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if follower is not None:
            follower.start()
        try:
            yield
        finally:
            if follower is not None:
                follower.stop()

    return lifespan


def _mlflow_routes(app: FastAPI, holder: Holder, limits: Limits) -> None:
    """MLflow's scoring protocol: POST /invocations, GET /ping."""

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        served = holder.current
        try:
            body = await _body(request, limits)
            content_type = request.headers.get("content-type", "")
            query = request.query_params.get("probabilities")

            def work() -> Any:
                parsed = mlflow.parse(body, content_type, served.schema)
                proba = mlflow.wants_probabilities(parsed, query)
                return _predict(served, parsed.columns, limits, proba)

            prediction = await _answer(work, served, body)
        except RequestRejected as exc:
            return _json(mlflow.error_body(exc.message, exc.status), exc.status, served)
        return _json(mlflow.answer(prediction), served=served)

    @app.get("/ping")
    async def ping() -> Response:
        return Response("\n", media_type="text/plain")


def _status_routes(
    app: FastAPI,
    holder: Holder,
    metrics: Metrics,
    follower: Follower | None,
    ref: str | None,
) -> None:
    """/health, /version (MLflow's names, tether's contents) and /metrics."""

    @app.get("/health")
    async def health() -> Response:
        served = holder.current
        status = holder.status
        stale = follower.stale() if follower is not None else None
        problem = "; ".join(p for p in (stale, status.problem) if p) or None
        body: dict[str, Any] = {
            "status": "degraded" if problem else "ok",
            "serving": served.release.label,
            "ref": ref,
            "problem": problem,
            "note": status.note,
            "last_check": status.checked_at,
            "last_success": status.succeeded_at,
            "swaps": status.swaps,
            "following": follower.describe() if follower is not None else None,
        }
        return _json(body, served=served)

    @app.get("/version")
    async def version() -> Response:
        served = holder.current
        r = served.release
        return _json(
            {
                "artifact": r.artifact,
                "version": r.version,
                "stage": r.stage,
                "ref": ref,
                "tag": r.tag,
                "commit": r.commit,
                "model_path": r.model_path,
                "model_md5": r.model_md5,
                "origin": r.origin,
                "schema": served.schema.to_dict(),
                "predicting": served.path,
                "manifest": r.manifest,
                "tether": __version__,
            },
            served=served,
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.text(), media_type=CONTENT_TYPE)


def _named_model(served: Served, name: str, version: str | None) -> Served:
    """The serving model if the V2 path names it (and its version, if given): 404 if not."""
    if name != served.release.artifact or version not in (None, served.release.version):
        shown = f"{name} version {version}" if version else name
        raise RequestRejected(
            f"no model {shown} here; this server serves {served.release.artifact} "
            f"{served.release.version}",
            404,
        )
    return served


def _v2_routes(app: FastAPI, holder: Holder, limits: Limits) -> None:
    """The Open Inference Protocol (KServe V2) over REST."""
    _v2_server_routes(app)
    _v2_model_routes(app, holder, limits)


def _v2_server_routes(app: FastAPI) -> None:
    """V2's server metadata and health, which name no model."""

    @app.get("/v2")
    async def v2_server() -> Response:
        return _json({"name": "tether", "version": __version__, "extensions": []})

    @app.get("/v2/health/live")
    async def v2_live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def v2_ready() -> Response:
        return _json({"ready": True})


def _v2_model_routes(app: FastAPI, holder: Holder, limits: Limits) -> None:
    """V2's model metadata, readiness and inference, for the model served now."""

    def _model(name: str, version: str | None) -> Served:
        return _named_model(holder.current, name, version)

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    async def v2_metadata(name: str, version: str | None = None) -> Response:
        try:
            served = _model(name, version)
        except RequestRejected as exc:
            return _json(v2.error_body(exc.message), exc.status)
        return _json(v2.metadata(served), served=served)

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def v2_model_ready(name: str, version: str | None = None) -> Response:
        try:
            served = _model(name, version)
        except RequestRejected as exc:
            return _json(v2.error_body(exc.message), exc.status)
        return _json({"name": name, "ready": True}, served=served)

    @app.post("/v2/models/{name}/infer")
    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def v2_infer(name: str, request: Request, version: str | None = None) -> Response:
        served = holder.current
        try:
            served = _model(name, version)
            body = await _body(request, limits)
            model = served

            def work() -> Any:
                columns, outputs, request_id, _ = v2.parse(body, model.schema)
                prediction = _predict(model, columns, limits, "predict_proba" in outputs)
                return v2.answer(model, prediction, outputs, request_id)

            answer = await _answer(work, model, body)
        except RequestRejected as exc:
            return _json(v2.error_body(exc.message), exc.status, served)
        return _json(answer, served=served)
