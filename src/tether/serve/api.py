"""``tether serve`` and ``tether export`` as functions: build the app, run uvicorn.

Everything that can fail before serving (an unknown reference, missing or
corrupted bytes, a model that does not load) fails here, before a port is bound,
as a TetherError the command turns into an exit code. uvicorn then serves until
SIGTERM or Ctrl-C and drains the requests in flight before it returns.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import FastAPI

from tether.errors import TetherError, UsageError
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
    key_file: str | None = None  # the bundle's signing key (else TETHER_BUNDLE_KEY)
    host: str = "127.0.0.1"
    port: int = 8080
    poll: float = 2.0  # seconds between registry checks; 0: never
    fetch_timeout: float = 30.0  # seconds before a fetch of the remote's tags is stopped
    workers: int = 1
    max_body_bytes: int = Limits.max_body_bytes
    max_rows: int = Limits.max_rows
    body_seconds: float = Limits.body_seconds
    dvc_remote: str | None = None


def build(options: ServeOptions) -> FastAPI:
    """Load the model the options name and build the app around it."""
    limits = Limits(options.max_body_bytes, options.max_rows, options.body_seconds)
    metrics = Metrics()
    if options.bundle is not None:
        key = bundle.load_key(Path(options.key_file) if options.key_file else None)
        served = bundle.open_bundle(Path(options.bundle), key)
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
            root, options.ref, holder, options.poll, metrics=metrics,
            dvc_remote=options.dvc_remote, fetch_timeout=options.fetch_timeout,
        )  # fmt: skip
    return create_app(holder, limits=limits, follower=follower, metrics=metrics, ref=options.ref)


def unkeyed(options: ServeOptions) -> bool:
    """A bundle to be served with no key: its model will be unpickled unverified.
    The key is found as ``build`` finds it (``bundle.load_key``: a key too short is
    a UsageError here already)."""
    if options.bundle is None:
        return False
    return bundle.load_key(Path(options.key_file) if options.key_file else None) is None


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


def bind(host: str, port: int) -> socket.socket:
    """The listening socket. tether binds it, not uvicorn: uvicorn exits 3 on a busy
    port (tether's code for git, DVC and remote failures) with a bare errno, and logs
    the port it was asked for, so ``--port 0`` would print 0, not the one bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _bind_error(host, port, exc) from None
    sock.set_inheritable(True)  # the workers of --workers N share it
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> UsageError:
    if exc.errno == errno.EADDRINUSE:
        return UsageError(
            f"port {port} on {host} is in use by another process",
            "Stop that process, or choose another port with --port N "
            "(--port 0 takes a free one and prints it).",
        )
    if exc.errno == errno.EACCES:
        return UsageError(
            f"no permission to bind port {port} on {host}",
            "Ports below 1024 need root: choose --port 8080 or another above 1023.",
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return UsageError(
            f"{host!r} is not an address of this machine",
            "Use --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) "
            "or one of this machine's addresses.",
        )
    return UsageError(f"cannot bind {host}:{port}: {exc.strerror or exc}")


def serve(options: ServeOptions, on_ready: Callable[[Served, int], None] | None = None) -> None:
    """Load, bind, then serve until SIGTERM/Ctrl-C (requests in flight are drained).
    ``on_ready`` gets the model and the port bound (the free one ``--port 0`` took)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    app = build(options)  # fails here, before any port is bound
    served: Served = app.state.holder.current
    sock = bind(options.host, options.port)
    try:
        port = sock.getsockname()[1]
        if on_ready is not None:
            on_ready(served, port)
        sys.stderr.flush()
        common = {
            "host": options.host,
            "port": port,
            "log_config": LOGGING,
            "access_log": False,  # tether's own access log is structured (one JSON line)
            "timeout_graceful_shutdown": DRAIN_SECONDS,
            "server_header": False,
        }
        with _stop_signals_end_cleanly():
            if options.workers <= 1:
                server = uvicorn.Server(uvicorn.Config(app, **common))  # type: ignore[arg-type]
                server.run(sockets=[sock])
                if not server.started:
                    raise TetherError("the server did not start; the lines above say why")
                return
            del app  # each worker loads its own copy
            os.environ[OPTIONS_VARIABLE] = json.dumps(asdict(options))
            config = uvicorn.Config(
                "tether.serve.api:worker_app",
                factory=True,
                workers=options.workers,
                **common,  # type: ignore[arg-type]
            )
            Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def export(
    root: Path, ref: str, to: Path, remote: str | None = None, key_file: Path | None = None
) -> Exported:
    return bundle.export(root, ref, to, remote, bundle.load_key(key_file))


logging.getLogger("tether.serve").addHandler(logging.NullHandler())
