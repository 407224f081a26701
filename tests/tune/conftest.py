"""Repositories for the tune tests, built once per session and copied.

``tiny_tune``: a Hydra + DVC project whose one stage scores ``x`` in well under a
second (no scikit-learn), and can be told to fail, write NaN, or sleep:
conf/config.yaml has ``x``, ``mode`` (ok; fail; void: a NaN score; die: SIGKILL to
the trial's worker; fresh: fails if an earlier run left its ignored scratch file) and
``sleep``.
``grid6``: the template project after a 6-trial grid run with --jobs 2.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import isolated_environ
from tests.helpers import commit_all, copy_repo, dvc, git, init_repo, tether, write_tree

SCORE_PY = """\
import json
import os
import signal
import time

import yaml

params = yaml.safe_load(open("params.yaml", encoding="utf-8"))
time.sleep(float(params["sleep"]))
if params["mode"] == "fail":
    raise SystemExit("score: told to fail")
if params["mode"] == "die":  # kill the trial's worker process (and this stage) outright
    os.killpg(os.getpgid(0), signal.SIGKILL)
if params["mode"] == "fresh":  # fail unless no earlier run left its scratch file here
    if os.path.exists("scratch.tmp"):
        raise SystemExit("score: scratch.tmp left by an earlier run")
    with open("scratch.tmp", "w", encoding="utf-8") as fh:
        fh.write("scratch\\n")
x = float(params["x"])
with open("model.txt", "w", encoding="utf-8") as fh:
    fh.write(f"x={x}\\n")
score = float("nan") if params["mode"] == "void" else -((x - 3.0) ** 2)
with open("score.json", "w", encoding="utf-8") as fh:
    json.dump({"score": score}, fh)
"""

DVC_YAML = """\
stages:
  score:
    cmd: python score.py
    deps:
      - score.py
    params:
      - x
      - mode
      - sleep
    outs:
      - model.txt
    metrics:
      - score.json:
          cache: false
"""

CONFIG = "x: 1.0\nmode: ok\nsleep: 0\n"

# Two models and a C range (both models have a C): the 6-trial grid. No C
# equals the committed 1.0: DVC takes C=1 for C=1.0 (1 == 1.0) and keeps the model
# trained with the float, which `tether verify` then rebuilds with the int.
GRID6 = ["model=logistic_regression,linear_svm", "model.params.C=0.05,2,20"]


@pytest.fixture(scope="session")
def tiny_tune(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    with isolated_environ(session_home):
        repo = init_repo(tmp_path_factory.mktemp("tiny-tune") / "repo")
        dvc(repo, "config", "hydra.enabled", "true")
        write_tree(
            repo,
            {
                "score.py": SCORE_PY,
                "dvc.yaml": DVC_YAML,
                "conf/config.yaml": CONFIG,
                ".gitignore": "/.tether/tune.db\n/scratch.tmp\n",
            },
        )
        tether(repo, "run", check=True)
        commit_all(repo, "tiny scorer")
        return repo


@pytest.fixture
def tiny(tiny_tune: Path, tmp_path: Path) -> Path:
    return copy_repo(tiny_tune, tmp_path / "tiny")


@dataclass(frozen=True)
class Grid:
    repo: Path
    run: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
def grid6(
    reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory, session_home: Path
) -> Grid:
    """The template after `tether tune GRID6 --jobs 2` (do not change: copy it)."""
    with isolated_environ(session_home):
        repo = copy_repo(reproduced_template, tmp_path_factory.mktemp("grid6") / "project")
        proc = tether(repo, "tune", *GRID6, "--metric", "f1", "--jobs", "2", "--study", "g6")
        return Grid(repo, proc)


def show(repo: Path, *args: str) -> dict:
    proc = tether(repo, "tune", "show", "--json", *args, check=True)
    return json.loads(proc.stdout)


def exp_refs(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps")
    return dict(line.split(" ") for line in out.splitlines())


def worktrees(repo: Path) -> int:
    return git(repo, "worktree", "list", "--porcelain").count("worktree ")


def wait_for(predicate, proc: subprocess.Popen[str], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"tune ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            kill_tree(proc)
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def kill_tree(proc: subprocess.Popen[str]) -> None:
    """SIGKILL tether and every process under it, as a crash of the machine would."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    os.kill(proc.pid, signal.SIGKILL)
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    proc.communicate()


# -- PostgreSQL, started by the tests on 127.0.0.1 ---------------------------------------


def _pg_bin(name: str) -> str:
    from tests.helpers import require_executable

    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    return require_executable(name, "postgresql")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 with a free port, for this session only.

    PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the
    ``postgres`` user (Debian's package creates it) on a data directory it owns."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="tether-pg-"))
    data = base / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        env=env,
    )
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            env=env,
        )
        shutil.rmtree(base, ignore_errors=True)
