"""`tether history`: revisions chosen by release tags, globs or the last N commits."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from tests.helpers import commit_all, git, tether, write_tree


def test_release_tags_in_version_order(project: Path) -> None:
    git(project, "tag", "v1.0.10", "v1.1.0")
    git(project, "tag", "not-a-release", "v1.0.0")
    proc = tether(project, "history", "--json", "-m", "acc", "-m", "best", "-p", "train.lr")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["columns"] == ["acc", "best", "train.lr"]
    assert [r["rev"] for r in data["rows"]] == ["v1.0.0", "v1.0.10", "v1.1.0"]
    assert data["rows"][0]["values"] == {"acc": 0.8, "best": 0.8, "train.lr": 0.001}
    assert data["rows"][0]["tags"] == ["not-a-release", "v1.0.0"]
    assert data["rows"][2]["values"] == {"acc": 0.85, "best": 0.85, "train.lr": 0.002}


def test_tags_glob_sort_and_csv(project: Path) -> None:
    proc = tether(
        project, "history", "--tags", "v1.*", "--sort", "loss", "-m", "loss", "-m", "label", "--csv"
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert rows[0] == ["revision", "commit", "date", "tags", "loss", "label"]
    assert [(r[0], r[4], r[5]) for r in rows[1:]] == [
        ("v1.1.0", "0.4", "tuned"),
        ("v1.0.0", "0.5", "baseline"),
    ]


def test_last_commits_of_a_branch_in_markdown(project: Path) -> None:
    write_tree(project, {"summary.yaml": "best: 0.9\n"})
    commit_all(project, "better")
    proc = tether(project, "history", "--last", "2", "-m", "best", "--md")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "| Revision | Date | Tags | best |"
    assert lines[2].endswith("| v1.1.0 | 0.85 |")
    assert lines[3].endswith("|  | 0.9 |")


def test_history_fails_closed_without_cache(project: Path) -> None:
    shutil.rmtree(project / ".dvc" / "cache")
    proc = tether(project, "history", "-m", "acc")
    assert proc.returncode == 1
    assert "v1.0.0: eval/cached.json: stored in the DVC cache" in proc.stderr
    assert "Run `dvc fetch --rev v1.0.0`, then retry." in proc.stderr


def test_unknown_column_and_no_tags(project: Path) -> None:
    proc = tether(project, "history", "-m", "nope")
    assert proc.returncode == 2
    assert "no metric 'nope' at any of these revisions" in proc.stderr
    proc = tether(project, "history", "--tags", "release-*")
    assert proc.returncode == 2
    assert "no tag matches 'release-*'" in proc.stderr


def test_wide_table_is_never_cut(project: Path) -> None:
    proc = tether(
        project,
        "history",
        "-p",
        "train.lr",
        "-p",
        "model.name",
        env={**os.environ, "COLUMNS": "40"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    header, first, second = proc.stdout.splitlines()[:3]
    assert header.split()[:3] == ["Revision", "Date", "Tags"]
    assert first.split()[0] == "v1.0.0" and "baseline" in first and "0.001" in first
    assert second.split()[0] == "v1.1.0" and "tuned" in second and "mlp" in second


def test_tags_column_shows_releases_and_current_stages_not_stage_history(project: Path) -> None:
    first = git(project, "rev-list", "-n1", "v1.0.0")
    second = git(project, "rev-list", "-n1", "v1.1.0")
    git(project, "tag", "-a", "m@v0.1.0", first, "-m", "register")
    git(project, "tag", "-a", "m@v0.2.0", second, "-m", "register")
    git(project, "tag", "-a", "m#prod#1", first, "-m", "assign")
    git(project, "tag", "-a", "m#prod#2", second, "-m", "assign")
    git(project, "tag", "-a", "m#dev#3", first, "-m", "assign")
    git(project, "tag", "-a", "m#dev!#4", first, "-m", "unassign")
    proc = tether(project, "history", "--json", "-m", "acc")
    assert proc.returncode == 0, proc.stderr
    tags = {row["rev"]: row["tags"] for row in json.loads(proc.stdout)["rows"]}
    assert tags["m@v0.1.0"] == ["m@v0.1.0", "v1.0.0"]
    assert tags["m@v0.2.0"] == ["m#prod", "m@v0.2.0", "v1.1.0"]


def test_prerelease_before_its_release(tmp_path: Path) -> None:
    """Was: v1.0.0 was listed before v1.0.0-rc.1 (history had its own version
    pattern and fell back to the tag name); SemVer 2.0 puts the pre-release first."""
    from tether.backends.git import GitRepo
    from tether.metrics.history import select_revisions

    root = tmp_path / "r"
    git(tmp_path, "init", "-q", str(root))
    for tag in ("v1.0.0", "m@v1.0.0-rc.1", "v0.10.0", "v1.0.0-beta", "v0.9.0"):
        git(root, "commit", "-q", "--allow-empty", "-m", tag)
        git(root, "tag", tag)
    git(root, "tag", "not-a-release")
    labels = [label for label, _ in select_revisions(GitRepo(root))]
    assert labels == ["v0.9.0", "v0.10.0", "v1.0.0-beta", "m@v1.0.0-rc.1", "v1.0.0"]
