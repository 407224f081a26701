"""The issue's scenario on the example project: a 6-trial grid over two models and
a C range, run with --jobs 2; listed alike by `tether tune show` and `dvc exp
show`; the best applied, committed, checked and verified bit-exact."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import yaml

from tests.helpers import commit_all, copy_repo, dvc, git, tether
from tests.tune.conftest import Grid, exp_refs, show, worktrees

pytestmark = pytest.mark.slow


def test_six_trials_in_tune_show_and_in_dvc_exp_show(grid6: Grid) -> None:
    assert grid6.run.returncode == 0, grid6.run.stderr
    assert "study g6: 6 trial(s) ran, 0 failed; 6 complete in all." in grid6.run.stdout
    board = show(grid6.repo)
    assert board["study"] == "g6" and board["metric"] == "f1"
    trials = {t["experiment"]: t for t in board["trials"]}
    assert len(trials) == 6 and all(t["state"] == "complete" for t in trials.values())

    listed = json.loads(dvc(grid6.repo, "exp", "show", "--json").stdout)
    baseline = next(entry for entry in listed if entry["rev"] != "workspace")
    experiments = {e["name"]: e["revs"][0]["data"] for e in baseline["experiments"]}
    assert set(experiments) == set(trials)
    for name, data in experiments.items():
        model = data["params"]["params.yaml"]["data"]["model"]
        metrics = data["metrics"]["reports/metrics.json"]["data"]
        trial = trials[name]
        expected = [f"model={model['name']}", f"model.params.C={model['params']['C']}"]
        assert trial["overrides"] == expected
        assert trial["metrics"] == metrics
        assert trial["value"] == metrics["f1"]
    assert worktrees(grid6.repo) == 1
    assert len(exp_refs(grid6.repo)) == 6
    # Every point of the grid, each once: both models at each C.
    assert sorted(tuple(t["overrides"]) for t in trials.values()) == sorted(
        (f"model={m}", f"model.params.C={c}")
        for m in ("logistic_regression", "linear_svm")
        for c in ("0.05", "2", "20")
    )

    text = tether(grid6.repo, "tune", "show", "--md").stdout
    assert "| # | Experiment | State | Overrides | f1 |" in text
    assert text.count("| complete |") == 6


def test_apply_best_commit_check_and_verify_bit_exact(grid6: Grid, tmp_path: Path) -> None:
    repo = copy_repo(grid6.repo, tmp_path / "project")
    board = show(repo)
    best = max(board["trials"], key=lambda t: (t["value"], -t["number"]))
    applied = tether(repo, "tune", "apply", "best")
    assert applied.returncode == 0, applied.stderr
    assert f"applied trial {best['number']} ({best['experiment']})" in applied.stdout
    assert git(repo, "for-each-ref", "refs/exps/exec") == ""
    model, c = (o.split("=", 1)[1] for o in best["overrides"])
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["model"]["name"] == model and str(params["model"]["params"]["C"]) == c
    commit_all(repo, "the best trial")
    check = tether(repo, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "reproducible: the workspace matches commit" in check.stdout
    verify = tether(repo, "verify", "HEAD", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    result = json.loads(verify.stdout)
    assert result["ok"] is True, result
    assert {o["status"] for o in result["outputs"]} == {"exact"}
    assert "train" in result["stages_run"] and "evaluate" in result["stages_run"]
    median = statistics.median(t["value"] for t in board["trials"])
    assert best["value"] >= median
