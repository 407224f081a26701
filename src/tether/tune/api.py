"""The tune API: run or resume a sweep (``tune``), apply a trial to the work tree
(``apply``), read a study's leaderboard (``leaderboard``, ``sort_rows``), and the
worker loop ``tether tune`` starts in each trial worktree (``serve_trials``).

    tune(root, Options(sweep=("model.params.C=1,2,4",), metric="f1"))  -> SweepResult
    leaderboard(root)                                                     -> Leaderboard
"""

from __future__ import annotations

from tether.tune.board import Leaderboard, leaderboard, sort_rows
from tether.tune.study import Options, Progress, SweepResult, apply, tune
from tether.tune.trial import serve_trials

__all__ = [
    "Leaderboard",
    "Options",
    "Progress",
    "SweepResult",
    "apply",
    "leaderboard",
    "serve_trials",
    "sort_rows",
    "tune",
]
