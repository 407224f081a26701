"""`tether history` without release tags, tag globs over registry tags, and how
history and diff show stage names and large changes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import git, tether
from tether.metrics.diff import MetricsDiff, Row
from tether.metrics.render import diff_markdown


def test_history_without_release_tags_shows_the_branch_and_says_so(project: Path) -> None:
    for tag in git(project, "tag", "-l").split():
        git(project, "tag", "-d", tag)
    proc = tether(project, "history", "--json", "-m", "acc")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    head = git(project, "rev-parse", "HEAD")
    assert rows[-1]["commit"] == head and rows[-1]["rev"] == head[:8]
    assert (
        f"no release tags yet: showing the last {len(rows)} commit(s) of main. "
        "Choose others with `--tags 'GLOB'` or `--last N`."
    ) in proc.stderr


def test_a_glob_gives_one_row_per_commit_and_md_shows_stage_names(project: Path) -> None:
    first = git(project, "rev-list", "-n1", "v1.0.0")
    git(project, "tag", "-a", "m@v0.1.0", first, "-m", "register")
    git(project, "tag", "-a", "m#prod#1", first, "-m", "assign")
    git(project, "tag", "-a", "m#dev#2", first, "-m", "assign")
    proc = tether(project, "history", "--tags", "m*", "-m", "acc", "--md")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| m")]
    assert len(rows) == 1, proc.stdout
    assert rows[0].startswith("| m@v0.1.0 |")
    assert "m#dev, m#prod, m@v0.1.0, v1.0.0" in rows[0]
    assert "&#8203;" not in proc.stdout


def test_a_large_relative_change_is_a_plain_percentage() -> None:
    row = Row("metrics", "m.json", "loss", 1, 20)
    assert row.percent() == "+1900%"
    text = diff_markdown(MetricsDiff("a", "b", rows=[row]))
    assert "+1900%" in text and "e+" not in text


def test_usage_lines_name_the_arguments(tmp_path: Path) -> None:
    proc = tether(tmp_path, "promote")
    assert proc.returncode == 2
    assert "Usage: tether promote [OPTIONS] NAME VERSION STAGE" in proc.stderr
    assert "{name}" not in proc.stderr
