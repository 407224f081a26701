"""The issue's scenario, end to end through the real CLI: releases verified from a
fresh clone that shares only the DVC remote, against a local remote and S3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import dvc, git, tether
from tests.verify.conftest import Releases, add_s3_remote

pytestmark = pytest.mark.slow

OUTPUTS = {
    "data/raw/dataset.csv",
    "data/prepared/train.csv",
    "data/prepared/test.csv",
    "models/model.pkl",
    "models/schema.json",
    "reports/metrics.json",
    "reports/plots/roc.csv",
    "reports/plots/precision_recall.csv",
    "reports/plots/confusion.csv",
}


def recorded_hash(repo: Path, rev: str, path: str) -> str:
    import yaml

    lock = yaml.safe_load(git(repo, "show", f"{rev}:dvc.lock"))
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out["md5"]
    raise KeyError(path)


def assert_bit_exact(clone: Path, ref: str) -> dict:
    proc = tether(clone, "verify", ref, "--from-remote", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    rev = report["commit"]
    assert {o["path"] for o in report["outputs"]} == OUTPUTS
    for out in report["outputs"]:
        assert out["status"] == "exact", out
        assert out["reproduced"] == out["recorded"] == recorded_hash(clone, rev, out["path"])
    assert report["stages_run"] == ["ingest", "prepare", "train", "evaluate"]
    assert report["objects_fetched"] >= 4  # every cached output came from the remote
    # A registry release: its manifest was found, and this machine built it.
    assert report["environment"]["recorded"] is True
    assert report["environment"]["differences"] == []
    return report


def assert_nondeterminism_caught(clone: Path, ref: str) -> None:
    proc = tether(clone, "verify", ref, "--from-remote")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    commit = git(clone, "rev-list", "-n1", "HEAD")  # v3 is the last commit
    recorded = recorded_hash(clone, commit, "reports/stamp.txt")
    assert f"NOT reproduced: 1 of 10 outputs differ from {ref}: reports/stamp.txt" in proc.stdout
    line = next(
        ln for ln in proc.stdout.splitlines() if ln.strip().startswith("reports/stamp.txt differs")
    )
    assert f"recorded {recorded}, reproduced " in line
    reproduced = line.rsplit("reproduced ", 1)[1].strip()
    assert len(reproduced) == 32 and reproduced != recorded
    # Nothing recorded differs, so the stage ran a second time to prove it.
    why = proc.stdout.split("why the bytes differ:\n", 1)[1].splitlines()[0]
    assert why.startswith(
        f"  nondeterministic: stage 'stamp' wrote other bytes when run twice on this machine "
        f"(reports/stamp.txt: {reproduced} then "
    )


def test_releases_verify_from_a_fresh_clone_with_a_local_remote(
    releases: Releases, fresh_clone: Path
) -> None:
    assert not (fresh_clone / ".dvc" / "cache").exists()
    dvc(fresh_clone, "remote", "modify", "--local", "local", "url", str(releases.remote))

    v1 = assert_bit_exact(fresh_clone, releases.refs["v1"])
    assert v1["source"] == f"remote local ({releases.remote})"
    v2 = assert_bit_exact(fresh_clone, releases.refs["v2"])
    # v2 really is a different release: another split, another model (the same
    # raw data and the same input schema: the columns did not change).
    for out in v2["outputs"]:
        if out["path"] not in ("data/raw/dataset.csv", "models/schema.json"):
            assert out["recorded"] != recorded_hash(fresh_clone, v1["commit"], out["path"])
    assert_nondeterminism_caught(fresh_clone, releases.refs["v3"])
    # verify used a cache of its own: the clone's stays empty, no worktree is left.
    assert not (fresh_clone / ".dvc" / "cache").exists()
    assert git(fresh_clone, "worktree", "list", "--porcelain").count("worktree ") == 1


@pytest.mark.usefixtures("s3_env")
def test_releases_verify_from_a_fresh_clone_with_an_s3_remote(
    releases: Releases, fresh_clone: Path
) -> None:
    add_s3_remote(fresh_clone, releases.s3_url, releases.endpoint)

    v1 = assert_bit_exact(fresh_clone, releases.refs["v1"])
    assert v1["source"] == f"remote s3 ({releases.s3_url})"
    assert_bit_exact(fresh_clone, releases.refs["v2"])
    assert_nondeterminism_caught(fresh_clone, releases.refs["v3"])
    assert not (fresh_clone / ".dvc" / "cache").exists()
