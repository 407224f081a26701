"""``tether serve`` and ``tether export`` as functions: build the app, run uvicorn.

Everything that can fail before serving (an unknown reference, missing or
corrupted bytes, a model that does not load) fails here, before a port is bound,
as a TetherError the command turns into an exit code. uvicorn then serves until
SIGTERM or Ctrl-C and drains the requests in flight before it returns.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import FastAPI

from tether.serve import bundle, source
from tether.serve.app import create_app
from tether.serve.bundle import Exported
from tether.serve.follow import RegistryFollower
from tether.serve.holder import Holder
from tether.serve.metrics import Metrics
from tether.serve.model import Served
from tether.serve.schema import Limits

OPTIONS_VARIABLE = "TETHER_SERVE_OPTIONS"  # how `--workers N` hands options to workers
DRAIN_SECONDS = 30


@dataclass(frozen=True)
class ServeOptions:
    ref: str | None = None  # NAME#STAGE, NAME@vX.Y.Z, NAME@latest
    root: str | None = None  # the repository (None with a bundle)
    bundle: str | None = None  # a directory written by `tether export`
    host: str = "127.0.0.1"
    port: int = 8080
    poll: float = 2.0  # seconds between registry checks; 0: never
    workers: int = 1
    max_body_bytes: int = Limits.max_body_bytes
    max_rows: int = Limits.max_rows
    dvc_remote: str | None = None


def build(options: ServeOptions) -> FastAPI:
    """Load the model the options name and build the app around it."""
    limits = Limits(options.max_body_bytes, options.max_rows)
    metrics = Metrics()
    if options.bundle is not None:
        served = bundle.open_bundle(Path(options.bundle))
        return create_app(
            Holder(served), limits=limits, metrics=metrics, ref=f"bundle {options.bundle}"
        )
    assert options.root is not None and options.ref is not None
    root = Path(options.root)
    served = source.open_ref(root, options.ref, options.dvc_remote)
    holder = Holder(served)
    follower = None
    if options.poll > 0:
        follower = RegistryFollower(
            root, options.ref, holder, options.poll, metrics=metrics, dvc_remote=options.dvc_remote
        )
    return create_app(holder, limits=limits, follower=follower, metrics=metrics, ref=options.ref)


def worker_app() -> FastAPI:
    """The app of one worker process under ``--workers N`` (uvicorn's factory)."""
    return build(ServeOptions(**json.loads(os.environ[OPTIONS_VARIABLE])))


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(message)s"},
        "server": {"format": "%(levelname)s tether serve: %(message)s"},
    },
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "tether.serve.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "tether.serve": {"handlers": ["server"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["server"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
    },
}  # fmt: skip


@contextmanager
def _stop_signals_end_cleanly() -> Iterator[None]:
    """uvicorn drains on SIGTERM/SIGINT, then raises the signal again for the
    handler it found; with these no-op handlers in place a drained shutdown is a
    normal return (exit 0) rather than death by signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stops = (signal.SIGTERM, signal.SIGINT)
    saved = {sig: signal.signal(sig, lambda *_: None) for sig in stops}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def serve(options: ServeOptions, on_ready: Callable[[Served], None] | None = None) -> None:
    """Load, then serve until SIGTERM/Ctrl-C (requests in flight are drained)."""
    import uvicorn

    app = build(options)  # fails here, before any port is bound
    served: Served = app.state.holder.current
    if on_ready is not None:
        on_ready(served)
    sys.stderr.flush()
    common = {
        "host": options.host,
        "port": options.port,
        "log_config": LOGGING,
        "access_log": False,  # tether's own access log is structured (one JSON line)
        "timeout_graceful_shutdown": DRAIN_SECONDS,
        "server_header": False,
    }
    with _stop_signals_end_cleanly():
        if options.workers <= 1:
            uvicorn.run(app, **common)  # type: ignore[arg-type]
            return
        del app  # each worker loads its own copy
        os.environ[OPTIONS_VARIABLE] = json.dumps(asdict(options))
        uvicorn.run(
            "tether.serve.api:worker_app",
            factory=True,
            workers=options.workers,
            **common,  # type: ignore[arg-type]
        )


def export(root: Path, ref: str, to: Path, remote: str | None = None) -> Exported:
    return bundle.export(root, ref, to, remote)


logging.getLogger("tether.serve").addHandler(logging.NullHandler())
