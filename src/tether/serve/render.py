"""What `tether serve` and `tether export` say: plain lines and JSON, built here
from the domain's values (the commands only print them)."""

from __future__ import annotations

from typing import Any

from tether.serve.bundle import Exported
from tether.serve.model import Served


def ready_lines(served: Served, host: str, port: int, ref: str | None, poll: float) -> list[str]:
    """The lines printed once the model is loaded and ``port`` is bound."""
    r = served.release
    following = f"; following {ref} every {poll:g}s" if ref and poll > 0 else ""
    lines = [
        f"serving {r.label} (model {r.model_path} md5 {r.model_md5}, from {r.origin}) "
        f"on http://{host}:{port}{following}"
    ]
    if served.schema.source != "recorded":
        lines.append(f"input schema {served.schema.source}")
    if not r.verified:
        lines.append(
            "WARNING: the bundle is unverified: whoever could write its directory could have "
            "replaced the model (a pickle runs code as it loads) and its hashes; export it "
            "with --key-file KEY and serve it with the same --key-file"
        )
    return lines


def unkeyed_lines() -> list[str]:
    """Printed before an unkeyed bundle's model is unpickled: the risk comes then."""
    return [
        "WARNING: no bundle key (--key-file KEY or $TETHER_BUNDLE_KEY): the model is "
        "unpickled without proof that `tether export` wrote it"
    ]


def export_lines(done: Exported) -> list[str]:
    r = done.release
    held = f"in {r.artifact}#{r.stage}, " if r.stage else ""
    signed = (
        "signed with the key (HMAC-SHA256 of bundle.json)"
        if done.signed
        else "not signed (--key-file KEY signs it)"
    )
    return [
        f"exported {r.label} ({held}commit {r.commit[:8]}) to {done.directory}, {signed}",
        *(f"  {name}  sha256 {digest[:16]}…" for name, digest in done.files.items()),
        "Next, on the machine that serves it: install tether (from its project) and the "
        "release's packages (`pip install -r requirements.txt`), then "
        f"`tether serve --bundle {done.directory}`; no Git repository or DVC remote is needed.",
    ]


def export_json(done: Exported) -> dict[str, Any]:
    r = done.release
    return {
        "artifact": r.artifact,
        "version": r.version,
        "tag": r.tag,
        "commit": r.commit,
        "directory": str(done.directory),
        "files": done.files,
        "signed": done.signed,
    }
