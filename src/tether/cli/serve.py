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
    from tether.serve.model import Served

REPO_OPTION = typer.Option(Path("."), "--repo", "-C", help="Use this repository.")


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
    bundle: Path = typer.Option(
        None, "--bundle", help="Serve a directory written by `tether export` instead of REF."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to bind."),
    poll: float = typer.Option(
        2.0, "--poll", min=0, help="Seconds between registry checks (0: never follow)."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    max_rows: int = typer.Option(10_000, "--max-rows", min=1, help="Rows per request at most."),
    max_body_bytes: int = typer.Option(
        8 * 1024 * 1024, "--max-body-bytes", min=1, help="Request body size at most (413 past it)."
    ),
    dvc_remote: str = typer.Option(
        None,
        "--remote",
        "-r",
        help="DVC remote to fetch models from (default: the default remote).",
    ),
    repo: Path = REPO_OPTION,
) -> None:
    """Serve a released model over HTTP, following the registry live.

    REF is resolved through the registry's tags; the model's bytes come from the
    DVC cache or remote by the md5 its release records, and nothing whose bytes
    hash otherwise is loaded. Every --poll seconds the server fetches tags from
    the Git remote and resolves REF again: a new version is loaded, verified and
    warmed beside the old one, then swapped in without dropping a request. A new
    version that fails any of this is not swapped in; /health says why.

    Speaks MLflow's scoring protocol (POST /invocations, /ping, /health, /version)
    and the Open Inference Protocol (/v2/...); /metrics for Prometheus. Every
    answer names its version in the X-Model-Version header. Exit codes: 0 after a
    clean shutdown (SIGTERM, Ctrl-C; requests in flight are drained); 1 the
    release's manifest and dvc.lock record different md5s; 2 unknown REF or bad
    input; 3 the model's bytes are corrupted or could not be fetched.
    """
    from tether.serve.api import ServeOptions, serve

    if (ref is None) == (bundle is None):
        raise UsageError(
            "give either REF or --bundle DIR",
            "e.g. `tether serve cancer-classifier#prod` or `tether serve --bundle ./bundle`.",
        )
    options = ServeOptions(
        ref=ref,
        root=None if bundle is not None else str(repo_root(repo)),
        bundle=str(bundle) if bundle is not None else None,
        host=host,
        port=port,
        poll=poll if bundle is None else 0,
        workers=workers,
        max_body_bytes=max_body_bytes,
        max_rows=max_rows,
        dvc_remote=dvc_remote,
    )

    def ready(served: Served) -> None:
        r = served.release
        following = f"; following {ref} every {poll:g}s" if ref and poll > 0 else ""
        err(
            f"serving {r.label} (model {r.model_path} md5 {r.model_md5}, from {r.origin}) "
            f"on http://{host}:{port}{following}"
        )
        if served.schema.source != "recorded":
            err(f"input schema {served.schema.source}")

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
    to: Path = typer.Option(..., "--to", help="A new (or empty) directory to write."),
    dvc_remote: str = typer.Option(
        None, "--remote", "-r", help="DVC remote to fetch the model from if it is not cached."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    repo: Path = REPO_OPTION,
) -> None:
    """Write a release as a directory that `tether serve --bundle` serves anywhere.

    The bundle holds the model file, its input schema, the release manifest, the
    pinned packages of the release's environment (requirements.txt) and
    bundle.json with the SHA-256 of each file, which `serve --bundle` checks.
    Exit codes: 0 written; 1 the release's manifest and dvc.lock disagree; 2
    unknown REF or DIR not empty; 3 the bytes are corrupted or could not be fetched.
    """
    from tether.serve.api import export

    done = export(repo_root(repo), ref, to, dvc_remote)
    r = done.release
    if as_json:
        print_json({
            "artifact": r.artifact, "version": r.version, "tag": r.tag, "commit": r.commit,
            "directory": str(done.directory), "files": done.files,
        })  # fmt: skip
        return
    out(f"exported {r.label} ({r.tag} at {r.commit[:8]}) to {done.directory}")
    for name, digest in done.files.items():
        out(f"  {name}  sha256 {digest[:16]}…")
    out(
        f"Next: `tether serve --bundle {done.directory}` (needs only the packages in requirements.txt)."
    )
