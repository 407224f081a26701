"""Fixtures for tether serve: the verify tests' session releases, a real uvicorn
server on 127.0.0.1 (in a thread for the protocol tests, a `tether serve` process
for the end-to-end ones), and a small model trained in-process."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers import BIN, copy_repo, dvc, git, tether

# The session's releases, built once and shared with the verify tests.
from tests.verify.conftest import Releases, releases, s3_endpoint  # noqa: F401

ARTIFACT = "cancer-classifier"


@pytest.fixture
def origin_copy(releases: Releases, tmp_path: Path) -> Path:  # noqa: F811 (the fixture)
    """A private copy of the verify tests' releases (v1.0.0, v2.0.0 with another C,
    v3.0.0), cache included, with its own DVC remote copy; v1.0.0 is in #prod."""
    repo = copy_repo(releases.origin, tmp_path / "origin")
    remote = tmp_path / "dvc-remote"
    shutil.copytree(releases.remote, remote)
    dvc(repo, "remote", "modify", "--local", "local", "url", str(remote))
    tether(repo, "promote", ARTIFACT, "v1.0.0", "prod", check=True)
    return repo


@pytest.fixture
def clone(origin_copy: Path, tmp_path: Path) -> Path:
    """A fresh `git clone` of the origin copy: no DVC cache, the DVC remote shared,
    the work tree at main (not at any release)."""
    target = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin_copy), str(target))
    remote = tmp_path / "dvc-remote"
    dvc(target, "remote", "modify", "--local", "local", "url", str(remote))
    return target


def model_object(repo: Path, version: str) -> tuple[str, Path]:
    """(md5, cache path) of the model file of ``version`` in ``repo``'s DVC cache."""
    import json

    message = git(repo, "for-each-ref", "--format=%(contents)", f"refs/tags/{ARTIFACT}@{version}")
    manifest = json.loads(message.split("tether-manifest:", 1)[1])
    md5 = manifest["outs"]["models/model.pkl"]
    return md5, repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(
    url: str,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 60,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = log.read_text(errors="replace") if log is not None else ""
            raise AssertionError(f"the server exited with {proc.returncode}: {said}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"no answer from {url} within {timeout}s")


@contextlib.contextmanager
def serve_process(cwd: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """A real `tether serve ...` process on a free port, its output (the access log
    included) going to a file, yielded with the URL; always stopped (SIGTERM, then
    SIGKILL) when the block ends, also on failure. A pipe nobody reads until the end
    would fill with the access log and stall the server."""
    port = free_port()
    log = cwd.parent / f"serve-{port}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [str(BIN / "tether"), "serve", *args, "--port", str(port)],
            cwd=cwd,
            stdout=sink,
            stderr=sink,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, log=log)
        yield url, proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- in-process: a small model and a uvicorn server in a thread ---------------------


@dataclass(frozen=True)
class Trained:
    model: Any
    frame: Any  # a few rows of the test split, features only
    schema_bytes: bytes
    model_bytes: bytes


@pytest.fixture(scope="session")
def trained() -> Trained:
    """The example pipeline's logistic regression, fitted here on the bundled data."""
    import json

    from tabular_classifier.ingest import load_table
    from tabular_classifier.prepare import split
    from tabular_classifier.train import fit, input_schema

    dataset = {"target": "target", "features": {"numeric": None, "categorical": []}}
    table = load_table("sklearn:breast_cancer", "target")
    train, test = split(table, "target", 0.2, seed=42)
    model = fit(train, dataset, {"name": "logistic_regression", "params": {"max_iter": 1000}}, 42)
    schema = json.dumps(input_schema(train, dataset, model)).encode()
    return Trained(model, test.drop(columns=["target"]).head(7), schema, pickle.dumps(model))


def release_for(trained: Trained, version: str = "v1.0.0") -> Any:
    from tether.serve.model import Release

    md5 = hashlib.md5(trained.model_bytes).hexdigest()
    return Release(
        artifact=ARTIFACT,
        version=version,
        tag=f"{ARTIFACT}@{version}",
        commit="0" * 40,
        model_path="models/model.pkl",
        model_md5=md5,
        manifest={"outs": {"models/model.pkl": md5}},
    )


@contextlib.contextmanager
def thread_server(app: Any) -> Iterator[str]:
    """uvicorn serving ``app`` on a free 127.0.0.1 port in a thread, stopped after."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)
