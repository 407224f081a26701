"""The leaderboard renderers on a hand-made leaderboard."""

from __future__ import annotations

import json

from tether.tune import render
from tether.tune.board import Leaderboard, Row, find_trial, sort_rows


def _board() -> Leaderboard:
    board = Leaderboard(
        study="s",
        metric="f1",
        minimize=False,
        sampler="grid",
        sweep=["model.params.C=0.1,1", "seed=3"],
        baseline="a" * 40,
        storage="postgresql://me:***@db/optuna",
    )
    board.rows = [
        Row(0, "complete", ["seed=3", "model.params.C=0.1"], {"f1": 0.9, "acc": 0.8}, 0.9, 2.5, "s-0", "c0", None),
        Row(1, "complete", ["seed=3", "model.params.C=1"], {"f1": 0.95, "acc": 0.85}, 0.95, 2.0, "s-1", "c1", None),
        Row(2, "failed", ["seed=3", "model.params.C=a|b"], {}, None, 1.0, None, None, "stage 'train' failed"),
    ]  # fmt: skip
    board.reference = Row(-1, "baseline", ["model=svm"], {"f1": 0.92, "acc": 0.7}, 0.92, None, None, "a" * 40, None)  # fmt: skip
    return board


def test_markdown_table_best_first_with_the_failure_reason() -> None:
    board = _board()
    text = render.markdown(board, sort_rows(board, None))
    assert text.splitlines()[2:] == [
        "| # | Experiment | State | Overrides | f1 | acc | Seconds |",
        "|---:|---|---|---|---:|---:|---:|",
        "| base | aaaaaaaa | baseline | model=svm | 0.92 | 0.7 |  |",
        "| 1 | s-1 | complete | model.params.C=1 | 0.95 | 0.85 | 2 |",
        "| 0 | s-0 | complete | model.params.C=0.1 | 0.9 | 0.8 | 2.5 |",
        "| 2 |  | failed: stage 'train' failed | model.params.C=a\\|b |  |  | 1 |",
    ]


def test_json_csv_and_picking_trials() -> None:
    board = _board()
    data = render.to_json(board, sort_rows(board, "acc"))
    assert data["best"] == 1 and data["direction"] == "maximize"
    assert [t["number"] for t in data["trials"]] == [1, 0, 2]
    json.dumps(data, allow_nan=False)
    assert data["baseline_row"]["value"] == 0.92 and data["baseline_row"]["state"] == "baseline"
    csv = render.to_csv(board, board.rows).splitlines()
    assert csv[0] == "number,experiment,state,overrides,f1,acc,seconds,reason"
    assert csv[1] == "base,aaaaaaaa,baseline,model=svm,0.92,0.7,,"
    assert csv[4] == "2,,failed,seed=3 model.params.C=a|b,,,1.0,stage 'train' failed"
    assert find_trial(board, "best").number == 1
    assert find_trial(board, "s-0").number == 0
    import pytest

    from tether.errors import UsageError

    with pytest.raises(UsageError, match="did not finish"):
        find_trial(board, "2")


def test_the_verdict_against_the_baseline() -> None:
    board = _board()
    best = find_trial(board, "best")
    assert render.against_baseline(board, best) == (
        "the baseline (aaaaaaaa) has f1=0.92; trial 1 improves on it."
    )
    worse = find_trial(board, "0")
    assert render.against_baseline(board, worse) == (
        "trial 0 (f1=0.9) does not beat the baseline (aaaaaaaa, f1=0.92): applying it would "
        "not improve the model. Widen the sweep, or keep the baseline."
    )
    board.minimize = True
    assert render.against_baseline(board, worse).startswith("the baseline (aaaaaaaa)")
    board.reference = None  # a study recorded before the baseline was kept
    assert render.against_baseline(board, best) is None
