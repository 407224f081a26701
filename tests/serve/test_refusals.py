"""What the server refuses to load, and what it keeps doing meanwhile: a model
whose bytes were altered in the DVC cache is never unpickled, the old model keeps
serving and /health says why; a stage that loses its version keeps the last one."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from tests.helpers import BIN, tether
from tests.serve.conftest import ARTIFACT, model_object, thread_server, wait_until_up

pytestmark = pytest.mark.slow


def corrupt(path: Path) -> str:
    """Append to a (read-only) cache object; returns the md5 its bytes have now."""
    path.chmod(0o644)
    data = path.read_bytes() + b"\x80tampered"
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


def test_a_corrupted_model_is_refused_and_the_old_one_keeps_serving(origin_copy: Path):
    from tether.serve.api import ServeOptions, build
    from tether.serve.follow import RegistryFollower

    app = build(ServeOptions(ref=f"{ARTIFACT}#prod", root=str(origin_copy), poll=0))
    holder = app.state.holder
    follower = RegistryFollower(
        origin_copy, f"{ARTIFACT}#prod", holder, 0.5, metrics=app.state.metrics
    )
    md5, path = model_object(origin_copy, "v2.0.0")
    actual = corrupt(path)

    # at start-up: refused before any port is bound, naming both hashes (exit 3)
    refused = tether(origin_copy, "serve", f"{ARTIFACT}@v2.0.0", "--port", "1")
    assert refused.returncode == 3, refused.stderr
    assert f"its bytes hash to {actual}, not {md5}" in refused.stderr
    assert "serving" not in refused.stderr

    # while serving: the follower refuses v2 and v1 keeps answering
    tether(origin_copy, "promote", ARTIFACT, "v2.0.0", "prod", check=True)
    follower.check()
    assert holder.current.release.version == "v1.0.0"
    with thread_server(app) as url:
        health = httpx.get(f"{url}/health").json()
        assert health["status"] == "degraded" and health["serving"] == f"{ARTIFACT}@v1.0.0"
        assert f"{ARTIFACT}@v2.0.0 is not served" in health["problem"]
        assert f"its bytes hash to {actual}, not {md5}" in health["problem"]
        assert health["note"] == f"keeps serving {ARTIFACT}@v1.0.0"
        columns = [c.name for c in holder.current.schema.columns]
        body = {"dataframe_split": {"columns": columns, "data": [[1.0] * len(columns)]}}
        answer = httpx.post(f"{url}/invocations", json=body)
        assert answer.status_code == 200
        assert answer.headers["X-Model-Version"] == f"{ARTIFACT}@v1.0.0"
        metrics = httpx.get(f"{url}/metrics").text
        assert "tether_serve_model_load_failures_total 1.0" in metrics

        # the stage loses its version: the last model keeps serving, /health says so
        tether(origin_copy, "unassign", ARTIFACT, "prod", check=True)
        tether(origin_copy, "unassign", ARTIFACT, "prod", check=True)
        follower.check()
        health = httpx.get(f"{url}/health").json()
        assert health["serving"] == f"{ARTIFACT}@v1.0.0"
        assert f"{ARTIFACT}#prod names no version now" in health["note"]
        assert f"keeps serving {ARTIFACT}@v1.0.0" in health["note"]


def test_unknown_reference_is_a_usage_error(origin_copy: Path):
    proc = tether(origin_copy, "serve", f"{ARTIFACT}@v9.9.9", "--port", "1")
    assert proc.returncode == 2
    assert f"no release {ARTIFACT}@v9.9.9" in proc.stderr
    both = tether(origin_copy, "serve", f"{ARTIFACT}#prod", "--bundle", "x")
    assert both.returncode == 2 and "give either REF or --bundle DIR" in both.stderr


def test_a_clone_on_the_in_clone_remote_is_told_where_the_data_is(
    origin_copy: Path, tmp_path: Path
):
    """The template's DVC remote is a folder inside each clone: a teammate's clone
    finds nothing there, and the error names the model, the release and the fix."""
    from tests.helpers import git

    clone = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", str(origin_copy), str(clone))
    (clone / ".dvc" / "storage").mkdir(parents=True, exist_ok=True)
    proc = tether(clone, "serve", f"{ARTIFACT}#prod", "--port", "1")
    assert proc.returncode == 3, proc.stderr
    assert f"the model models/model.pkl of {ARTIFACT}@v1.0.0 (object " in proc.stderr
    assert "is in neither the local DVC cache nor DVC remote 'local'" in proc.stderr
    assert "is a folder inside this clone" in proc.stderr
    assert "`dvc remote modify --local local url PATH`" in proc.stderr


def test_a_busy_port_is_a_usage_error_and_port_0_prints_the_port_bound(
    origin_copy: Path, tmp_path: Path
) -> None:
    ref = f"{ARTIFACT}@v1.0.0"
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        refused = tether(origin_copy, "serve", ref, "--port", str(port), "--poll", "0")
    assert refused.returncode == 2, refused.stderr
    assert f"port {port} on 127.0.0.1 is in use by another process" in refused.stderr
    assert "--port 0 takes a free one and prints it" in refused.stderr
    assert "Traceback" not in refused.stderr

    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [str(BIN / "tether"), "serve", ref, "--port", "0", "--poll", "0"],
            cwd=origin_copy, stdout=sink, stderr=sink,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        bound = None
        while bound is None and time.monotonic() < deadline and proc.poll() is None:
            bound = re.search(r"on http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
            time.sleep(0.1)
        assert bound is not None, log.read_text(errors="replace")
        url = f"http://127.0.0.1:{bound[1]}"
        assert int(bound[1]) != 0
        wait_until_up(url, proc, log=log)
        assert httpx.get(f"{url}/version").json()["version"] == "v1.0.0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text(errors="replace")
