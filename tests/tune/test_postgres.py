"""Two workers, each in its own clone, run one study in a real PostgreSQL server
(started by the tests on 127.0.0.1): every grid point runs exactly once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, copy_repo, tether
from tests.tune.conftest import exp_refs

pytestmark = pytest.mark.slow


def test_two_workers_share_one_study_and_no_trial_runs_twice(
    tiny: Path, tmp_path: Path, postgres_url: str
) -> None:
    second = copy_repo(tiny, tmp_path / "second")
    args = ["x=range(0,6)", "sleep=0.3", "--metric", "score", "--study", "shared"]
    args += ["--storage", postgres_url]
    workers = [
        subprocess.Popen(
            [str(BIN / "tether"), "tune", *args],
            cwd=repo,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for repo in (tiny, second)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "study shared:" in out and "6 complete in all." in out

    proc = tether(tiny, "tune", "show", "--json", "--study", "shared", "--storage", postgres_url)
    assert proc.returncode == 0, proc.stderr
    board = json.loads(proc.stdout)
    assert board["storage"].startswith("postgresql://postgres@127.0.0.1:")
    assert [t["state"] for t in board["trials"]] == ["complete"] * 6
    assert sorted(t["overrides"][1] for t in board["trials"]) == [f"x={i}" for i in range(6)]

    # Each trial is an experiment in the clone of the worker that ran it, once.
    names = [ref.rsplit("/", 1)[1] for repo in (tiny, second) for ref in exp_refs(repo)]
    assert sorted(names) == sorted(t["experiment"] for t in board["trials"])
    assert all(exp_refs(repo) for repo in (tiny, second)), "both workers ran trials"
