"""``tether serve`` and ``tether export``: a registry stage as a live HTTP model server,
and a release as a self-contained directory. fastapi, uvicorn and scikit-learn are
imported inside the commands, never at ``tether --help``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tether.cli.app import app, repo_root
from tether.cli.output import err, out, print_json
from tether.errors import UsageError

if TYPE_CHECKING:
    from tether.serve.api import Served, ServeOptions

REPO_OPTION = typer.Option(Path("."), "--repo", "-C", help="Use this repository.")
BUNDLE_OPTION = typer.Option(
    None,
    "--bundle",
    metavar="DIR",
    help="Serve a directory written by `tether export` instead of REF.",
)
KEY_FILE_OPTION = typer.Option(
    None, "--key-file", metavar="FILE",
    help="The bundle's signing key (shared by export and serve; else $TETHER_BUNDLE_KEY).",
)  # fmt: skip
HOST_OPTION = typer.Option("127.0.0.1", "--host", metavar="ADDRESS", help="Address to bind.")
PORT_OPTION = typer.Option(8080, "--port", min=0, max=65535, metavar="N", help="Port to bind.")
POLL_OPTION = typer.Option(
    2.0,
    "--poll",
    min=0,
    metavar="SECONDS",
    help="Seconds between registry checks (0: never follow).",
)
FETCH_TIMEOUT_OPTION = typer.Option(
    30.0, "--fetch-timeout", min=0.1, metavar="SECONDS",
    help="Seconds before a fetch of the Git remote's tags is stopped (/health says so).",
)  # fmt: skip
WORKERS_OPTION = typer.Option(1, "--workers", min=1, metavar="N", help="Worker processes.")
MAX_ROWS_OPTION = typer.Option(
    10_000, "--max-rows", min=1, metavar="N", help="Rows per request at most."
)
MAX_BODY_OPTION = typer.Option(
    8 * 1024 * 1024, "--max-body-bytes", min=1, metavar="BYTES",
    help="Request body size at most (413 past it).",
)  # fmt: skip
BODY_TIMEOUT_OPTION = typer.Option(
    30.0, "--body-timeout", min=0.1, metavar="SECONDS",
    help="Seconds a request's body may take to arrive (408 past them).",
)  # fmt: skip
SERVE_REMOTE_OPTION = typer.Option(
    None, "--remote", "-r", metavar="NAME",
    help="DVC remote to fetch models from (default: the default remote).",
)  # fmt: skip


@app.command(
    "serve",
    epilog=(
        "Examples:\n\n"
        "  tether serve cancer-classifier#prod                 # follows promote and rollback\n\n"
        "  tether serve cancer-classifier@v1.2.0 --port 9000 --poll 0\n\n"
        "  tether serve --bundle ./bundle                       # no Git, no DVC remote\n\n"
        "  curl -s localhost:8080/invocations -H 'Content-Type: application/json' "
        "-d '{\"dataframe_records\": [{...}]}'"
    ),
)
def serve_command(
    ref: str = typer.Argument(None, help="NAME#STAGE, NAME@vX.Y.Z or NAME@latest."),
    bundle: Path = BUNDLE_OPTION,
    key_file: Path = KEY_FILE_OPTION,
    host: str = HOST_OPTION,
    port: int = PORT_OPTION,
    poll: float = POLL_OPTION,
    fetch_timeout: float = FETCH_TIMEOUT_OPTION,
    workers: int = WORKERS_OPTION,
    max_rows: int = MAX_ROWS_OPTION,
    max_body_bytes: int = MAX_BODY_OPTION,
    body_timeout: float = BODY_TIMEOUT_OPTION,
    dvc_remote: str = SERVE_REMOTE_OPTION,
    repo: Path = REPO_OPTION,
) -> None:
    """Serve a released model over HTTP, following the registry live.

    REF is resolved through the registry's tags; the model's bytes come from the
    DVC cache or remote by the md5 its release records, and nothing whose bytes
    hash otherwise is loaded. Every --poll seconds the server fetches tags and
    resolves REF again: a new version is loaded, verified and warmed, then swapped
    in without dropping a request; one that fails is not, and /health says why.

    Speaks MLflow's scoring protocol (POST /invocations, /ping, /health, /version)
    and the Open Inference Protocol (/v2/...); /metrics for Prometheus. Every
    answer names its version in the X-Model-Version header. Exit codes: 0 after a
    clean shutdown (SIGTERM, Ctrl-C; requests in flight are drained); 1 the
    release's manifest and dvc.lock record different md5s; 2 unknown REF, bad
    input or a port that cannot be bound (in use: --port 0 takes a free one); 3
    the model's bytes are corrupted or could not be fetched.
    """
    from tether.serve.api import ServeOptions

    if (ref is None) == (bundle is None):
        raise UsageError(
            "give either REF or --bundle DIR",
            "e.g. `tether serve cancer-classifier#prod` or `tether serve --bundle ./bundle`.",
        )
    options = ServeOptions(
        ref=ref,
        root=None if bundle is not None else str(repo_root(repo)),
        bundle=str(bundle) if bundle is not None else None,
        key_file=str(key_file) if key_file is not None else None,
        host=host,
        port=port,
        poll=poll if bundle is None else 0,
        fetch_timeout=fetch_timeout,
        workers=workers,
        max_body_bytes=max_body_bytes,
        max_rows=max_rows,
        body_seconds=body_timeout,
        dvc_remote=dvc_remote,
    )

    _serve(options)


def _serve(options: ServeOptions) -> None:
    from tether.serve import render
    from tether.serve.api import serve, unkeyed

    if unkeyed(options):  # said before the model is unpickled
        for line in render.unkeyed_lines():
            err(line)

    def ready(served: Served, bound: int) -> None:
        for line in render.ready_lines(served, options.host, bound, options.ref, options.poll):
            err(line)

    serve(options, on_ready=ready)


@app.command(
    "export",
    epilog=(
        "Examples:\n\n"
        "  tether export cancer-classifier#prod --to ./bundle\n\n"
        "  tether serve --bundle ./bundle"
    ),
)
def export_command(
    ref: str = typer.Argument(..., help="NAME#STAGE, NAME@vX.Y.Z or NAME@latest."),
    to: Path = typer.Option(
        ..., "--to", metavar="DIR", help="A new (or empty) directory to write."
    ),
    dvc_remote: str = typer.Option(
        None,
        "--remote",
        "-r",
        metavar="NAME",
        help="DVC remote to fetch the model from if it is not cached.",
    ),
    key_file: Path = KEY_FILE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    repo: Path = REPO_OPTION,
) -> None:
    """Write a release as a directory that `tether serve --bundle` serves anywhere.

    The bundle holds the model file, its input schema, the release manifest, the
    pinned packages of the release's environment (requirements.txt) and
    bundle.json with the SHA-256 of each file, which `serve --bundle` checks.
    With --key-file (or $TETHER_BUNDLE_KEY) bundle.json is signed (HMAC-SHA256),
    and `serve --bundle --key-file` loads nothing the key did not sign; a
    bundle served without a key is said to be unverified.
    Exit codes: 0 written; 1 the release's manifest and dvc.lock disagree; 2
    unknown REF or DIR not empty; 3 the bytes are corrupted or could not be fetched.
    """
    from tether.serve import render
    from tether.serve.api import export

    done = export(repo_root(repo), ref, to, dvc_remote, key_file)
    if as_json:
        print_json(render.export_json(done))
        return
    for line in render.export_lines(done):
        out(line)
