"""Params that changed only their type: found once (tether.pipeline.retyped) for
`tether check` and `tether run`, and said in run's progress and summary."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import init_repo, write_tree
from tether import dvcfiles
from tether.pipeline import render
from tether.pipeline.retyped import Retyped, retyped_params
from tether.pipeline.run import RunResult, StageEvent, StageState

PIPELINE = """\
stages:
  train:
    cmd: python train.py
    params: [model, flags, sizes]
  report:
    cmd: python report.py
    params: [threshold]
"""

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    params:
      params.yaml:
        model:
          C: 1.0
          depth: 3
          name: lr
        flags: [1, 0]
        sizes: [2, 3]
  report:
    cmd: python report.py
    params:
      params.yaml:
        threshold: 0.5
"""


def test_only_equal_values_of_another_type_are_found(tmp_path: Path) -> None:
    init_repo(tmp_path, dvc=False)
    write_tree(
        tmp_path,
        {
            "dvc.yaml": PIPELINE,
            "dvc.lock": LOCK,
            # C and a list item retyped; depth changed value (DVC sees that itself);
            # sizes of another length; threshold the same.
            "params.yaml": (
                "model: {C: 1, depth: 4, name: lr}\nflags: [true, 0]\nsizes: [2.0]\n"
                "threshold: 0.5\n"
            ),
        },
    )
    found = retyped_params(tmp_path, dvcfiles.read(tmp_path))
    assert found == [
        Retyped("train", "params.yaml", "model.C", 1.0, 1),
        Retyped("train", "params.yaml", "flags[0]", 1, True),
    ]
    # (1 == True and 1.0 == 1 to Python, so the types are asserted through repr)
    assert [f.change for f in found] == ["model.C 1.0 -> 1", "flags[0] 1 -> True"]


def test_a_missing_params_file_retypes_nothing(tmp_path: Path) -> None:
    init_repo(tmp_path, dvc=False)
    write_tree(tmp_path, {"dvc.yaml": PIPELINE, "dvc.lock": LOCK})
    assert retyped_params(tmp_path, dvcfiles.read(tmp_path)) == []


def test_run_says_which_stage_ran_forced_and_why() -> None:
    change = (Retyped("train", "params.yaml", "model.params.C", 1.0, 1),)
    start = StageEvent("train", 3, 4, StageState.START, retyped=change)
    assert render.stage_line(start) == (
        "[3/4] train ... (forced: params changed type (model.params.C 1.0 -> 1))"
    )
    done = StageEvent("train", 3, 4, StageState.RAN, 2.0, change)
    assert render.stage_line(done) == "[3/4] train ran in 2.0s"
    result = RunResult(
        ["model.params.C=1"],
        True,
        [StageEvent("prepare", 2, 4, StageState.SKIPPED), done],
    )
    assert render.run_lines(result) == [
        "overrides: model.params.C=1",
        "train: params changed type (model.params.C 1.0 -> 1): ran",
        "params.yaml updated; 1 of 2 stages ran. Next: `tether check`, then commit what it lists.",
    ]
