"""A tiny Hydra + DVC project (no scikit-learn) for the pipeline's reliability tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit_all, init_repo, write_tree

# The stage records its PID and the value it read, sleeps, then writes its output.
STAGE = """\
import os, sys, time, yaml
params = yaml.safe_load(open("params.yaml"))
open("started", "w").write(f"{os.getpid()} {params['value']}")
time.sleep(params["seconds"])
open("out.txt", "w").write(str(params["value"]))
"""

PIPELINE = """\
stages:
  slow:
    cmd: python stage.py
    deps: [stage.py]
    params: [value, seconds]
    outs: [out.txt]
"""


@pytest.fixture
def sleepy(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "sleepy")
    write_tree(
        root,
        {
            "conf/config.yaml": "value: 1\nseconds: 0\n",
            "stage.py": STAGE,
            "dvc.yaml": PIPELINE,
            ".dvc/config": "[core]\n    analytics = false\n[hydra]\n    enabled = true\n",
        },
    )
    commit_all(root, "sleepy pipeline")
    return root
