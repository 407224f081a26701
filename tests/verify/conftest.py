"""Releases built once per session, shared by the verify tests.

``releases``: the template project with
  v1  the template as reproduced,
  v2  a hyperparameter and the data split changed (model.params.C, prepare.test_size),
  v3  v2 plus a stage that writes the current time (deliberately nondeterministic),
each released with `tether release` (NAME@vX.Y.Z) and pushed to a shared local DVC
remote and to an S3 bucket on a moto server on 127.0.0.1. Tests copy it (``release_copy``) or clone it
(``fresh_clone``) and never change the originals.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import isolated_environ
from tests.helpers import commit_all, copy_repo, dvc, git, tether

BUCKET = "tether-verify"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
STAMP_CMD = "python -c \"import time; open('reports/stamp.txt', 'w').write(str(time.time_ns()))\""


@dataclass(frozen=True)
class Releases:
    refs: dict[str, str]  # "v1", "v2", "v3" -> the REF to verify them by
    origin: Path  # the project the releases were made in (do not change)
    remote: Path  # the shared local DVC remote (do not change)
    s3_url: str  # s3://bucket/path holding the same objects
    endpoint: str  # the moto server's URL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """An S3-compatible server (moto) on 127.0.0.1 with an empty bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)


def add_s3_remote(repo: Path, url: str, endpoint: str, default: bool = True) -> None:
    """Configure remote ``s3`` in ``repo``'s config.local, as a user would."""
    dvc(repo, "remote", "add", "--local", *(["-d"] if default else []), "s3", url)
    dvc(repo, "remote", "modify", "--local", "s3", "endpointurl", endpoint)


ARTIFACT = "cancer-classifier"


def _release(repo: Path, major: int) -> str:
    """`tether release` version ``major``.0.0 (an annotated tag NAME@vX.Y.Z with
    a manifest; release pushes to the default remote), then push to S3 too.
    Returns the REF to verify it by."""
    tether(repo, "release", ARTIFACT, "--version", f"v{major}.0.0", check=True)
    dvc(repo, "push", "-q", "-r", "s3")
    return f"{ARTIFACT}@v{major}.0.0"


@pytest.fixture(scope="session")
def releases(
    reproduced_template: Path,
    s3_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
    session_home: Path,
) -> Releases:
    with isolated_environ(session_home, S3_ENV):
        base = tmp_path_factory.mktemp("releases")
        origin = copy_repo(reproduced_template, base / "origin")
        remote = base / "remote"
        remote.mkdir()
        s3_url = f"s3://{BUCKET}/store"
        dvc(origin, "remote", "modify", "--local", "local", "url", str(remote))
        add_s3_remote(origin, s3_url, s3_endpoint, default=False)

        refs = {"v1": _release(origin, 1)}

        tether(origin, "run", "model.params.C=0.5", "prepare.test_size=0.25", check=True)
        commit_all(origin, "C=0.5, a 25% test split")
        refs["v2"] = _release(origin, 2)

        dvc(origin, "stage", "add", "-q", "-n", "stamp", "-o", "reports/stamp.txt", STAMP_CMD)
        tether(origin, "run", check=True)
        commit_all(origin, "a stage that writes the current time")
        refs["v3"] = _release(origin, 3)
        return Releases(refs, origin, remote, s3_url, s3_endpoint)


@pytest.fixture
def fresh_clone(releases: Releases, tmp_path: Path) -> Path:
    """A new `git clone` of the releases that shares only the DVC remote: no cache,
    no config.local until the test adds one."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(releases.origin), str(clone))
    return clone


@pytest.fixture
def release_copy(releases: Releases, tmp_path: Path) -> Path:
    """A private copy of the origin, its cache included, with its own copy of the
    local remote (tests may corrupt or empty it)."""
    repo = copy_repo(releases.origin, tmp_path / "origin")
    remote = tmp_path / "remote"
    shutil.copytree(releases.remote, remote)
    dvc(repo, "remote", "modify", "--local", "local", "url", str(remote))
    return repo


# A tiny pipeline (no scikit-learn) for the fast tests -----------------------

MAKE_PY = '''\
"""Read the input, write a directory of results and a metrics file."""
import json
import os
import sys
import time

text = open("data/input.txt", encoding="utf-8").read()
os.makedirs("out", exist_ok=True)
for name in ("a", "b"):
    with open(f"out/{name}.txt", "w", encoding="utf-8") as fh:
        fh.write(f"{name}: {text.upper()}")
with open("metrics.json", "w", encoding="utf-8") as fh:
    json.dump({"acc": 0.9, "loss": {"train": 0.25}, "model": "tiny"}, fh, indent=2, sort_keys=True)
print(f"make ran with {len(text)} input bytes", file=sys.stderr, flush=True)
if os.path.exists("broken"):
    raise SystemExit("make: the input is broken")
if os.path.exists("slow"):
    print("make is sleeping", file=sys.stderr, flush=True)
    time.sleep(60)
'''

TINY_DVC_YAML = """\
stages:
  make:
    cmd: python src/make.py
    deps:
      - src/make.py
      - data/input.txt
    outs:
      - out
    metrics:
      - metrics.json:
          cache: false
"""

# The registry's manifest format (schema 1), with an environment unlike this one.
MANIFEST = {
    "schema": 1,
    "artifact": "tiny",
    "version": "v1.0.0",
    "path": "out",
    "commit": "0" * 40,
    "dvc_lock_sha256": "0" * 64,
    "metrics": {},
    "params": {},
    "outs": {},  # filled in with the real hashes
    "deps": {},
    "overrides": [],
    "python": "2.7.18",
    "packages": {"dvc": "0.0.1"},
    "platform": "Plan9-4th-edition",
    "threads": {"cpu_count": 1024},
}


@dataclass(frozen=True)
class Tiny:
    origin: Path  # tags: t1 (manifest in tag), t1-tampered, t2 (metrics off by 1e-7), slow, broken
    remote: Path


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Tiny:
    import json

    import yaml

    from tests.helpers import init_repo, write_tree

    with isolated_environ(session_home):
        base = tmp_path_factory.mktemp("tiny")
        remote = base / "remote"
        repo = init_repo(base / "origin")
        dvc(repo, "remote", "add", "-d", "local", str(remote))
        write_tree(
            repo, {"src/make.py": MAKE_PY, "dvc.yaml": TINY_DVC_YAML, "data/input.txt": "hello\n"}
        )
        dvc(repo, "add", "-q", "data/input.txt")
        dvc(repo, "repro", "-q")
        commit_all(repo, "tiny pipeline")
        lock = yaml.safe_load((repo / "dvc.lock").read_text())
        outs = {o["path"]: o["md5"] for o in lock["stages"]["make"]["outs"]}
        # A manifest describes the commit its tag points at (else it is refused).
        manifest = {**MANIFEST, "outs": outs, "commit": git(repo, "rev-parse", "HEAD")}
        message = "release t1\n\ntether-manifest:\n" + json.dumps(manifest, indent=2)
        git(repo, "tag", "-a", "t1", "-m", message)
        # t1-tampered: the same commit, but a manifest that recorded another hash.
        tampered = {**manifest, "outs": {**outs, "out": "0" * 32 + ".dir"}}
        message = "release t1-tampered\n\ntether-manifest:\n" + json.dumps(tampered, indent=2)
        git(repo, "tag", "-a", "t1-tampered", "-m", message)
        dvc(repo, "push", "-q")

        # t2: the recorded metrics differ from what the stage writes by 1e-7.
        metrics = json.loads((repo / "metrics.json").read_text())
        metrics["acc"] = 0.9000001
        (repo / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        dvc(repo, "commit", "-q", "-f")
        commit_all(repo, "metrics recorded a little off")
        git(repo, "tag", "-a", "t2", "-m", "release t2")

        # slow: the stage sleeps (for the interrupt tests); recorded without running.
        write_tree(repo, {"slow": "1\n"})
        commit_all(repo, "slow")
        git(repo, "tag", "slow")
        git(repo, "rm", "-q", "slow")
        write_tree(repo, {"broken": "1\n"})
        commit_all(repo, "broken")
        git(repo, "tag", "broken")
        git(repo, "rm", "-q", "broken")
        commit_all(repo, "not broken")
        return Tiny(repo, remote)


@pytest.fixture
def tiny_copy(tiny: Tiny, tmp_path: Path) -> Path:
    """A private copy of the tiny origin with its own copy of its remote."""
    repo = copy_repo(tiny.origin, tmp_path / "tiny")
    remote = tmp_path / "remote"
    shutil.copytree(tiny.remote, remote)
    dvc(repo, "remote", "modify", "--local", "local", "url", str(remote))
    return repo
