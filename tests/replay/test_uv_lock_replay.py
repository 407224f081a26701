"""`tether verify COMMIT --env` replays a commit's uv.lock, not only a release's lock:
from a second venv (scikit-learn B) the commit's environment (A) is built from the
wheelhouse and every output is bit-exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.helpers import commit_all
from tests.replay.conftest import SKLEARN_A, WHEELHOUSE, tether_in

pytestmark = pytest.mark.slow


def test_a_commits_uv_lock_is_replayed(template_repo: Path, venv_b: Path) -> None:
    (template_repo / "uv.lock").write_bytes((PROJECT / "uv.lock").read_bytes())
    commit_all(template_repo, "lock the environment")
    replay = ["verify", "HEAD", "--env", "--find-links", str(WHEELHOUSE), "--no-index"]

    proc = tether_in(venv_b, template_repo, *replay)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "environment replayed: cpython" in proc.stdout
    assert "bit-exact: all" in proc.stdout and "reproduced exactly" in proc.stdout

    data = json.loads(tether_in(venv_b, template_repo, *replay, "--json").stdout)
    assert data["ok"] is True and data["replay"]["reused"] is True
    assert data["environment"]["current"]["packages"]["scikit-learn"] == SKLEARN_A
    assert data["environment"]["uv_lock"] == []  # the stages ran in the lock's environment
    assert data["replay"]["editables_not_installed"] == ["tether 0.1.0"]
