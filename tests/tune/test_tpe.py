"""A seeded TPE search of 20 trials on the example project finds a better f1 than
the median trial of the 6-point grid."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from tests.helpers import copy_repo, tether
from tests.tune.conftest import Grid, show

pytestmark = pytest.mark.slow


def test_tpe_20_trials_beats_the_grid_median(grid6: Grid, tmp_path: Path) -> None:
    repo = copy_repo(grid6.repo, tmp_path / "project")
    median = statistics.median(t["value"] for t in show(repo, "--study", "g6")["trials"])
    # A discrete space around the grid's: TPE comes back to good points, and DVC's
    # run-cache (in the shared cache, copied with the grid's repository) restores the
    # outputs of a point already run instead of training again.
    proc = tether(
        repo,
        "tune",
        "model=logistic_regression,linear_svm",
        "model.params.C=choice(0.05,0.5,2,20)",
        "--sampler", "tpe", "--trials", "20", "--seed", "3",
        "--metric", "f1", "--jobs", "2", "--study", "tpe",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "study tpe: 20 trial(s) ran, 0 failed; 20 complete in all." in proc.stdout
    board = show(repo, "--study", "tpe")
    assert len(board["trials"]) == 20
    best = max(t["value"] for t in board["trials"])
    assert best > median
