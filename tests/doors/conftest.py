"""A tiny DVC 3 project reproduced once per session with the real `dvc repro`, and
pushed to a local DVC remote: the doors' tests read its dvc.yaml/dvc.lock and its
cached objects (tests copy it, never change it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import isolated_environ
from tests.helpers import commit_all, dvc, init_repo, write_tree
from tests.verify.conftest import s3_endpoint  # noqa: F401 (the S3 server fixture, shared)

# Root stage: a file output, a directory output, a metric kept in git, params.
# sub/dvc.yaml: a stage with its own wdir, whose paths are relative to it.
PIPELINE = """\
stages:
  make:
    cmd: python make.py
    deps:
      - make.py
    params:
      - n
      - extra.yaml:
          - scale
    outs:
      - out.txt
      - folder
    metrics:
      - metrics.json:
          cache: false
artifacts:
  thing:
    path: out.txt
    type: model
    desc: a file
metrics:
  - top.json
"""
MAKE = """\
import json, os
os.makedirs("folder", exist_ok=True)
open("out.txt", "w").write("hello\\n")
open("folder/a.txt", "w").write("a\\n")
open("folder/b.txt", "w").write("b\\n")
json.dump({"score": 0.5}, open("metrics.json", "w"))
"""
INNER = """\
import json
open("result.txt", "w").write("inner")
json.dump({"depth": 2}, open("inner.json", "w"))
"""
SUB_PIPELINE = """\
stages:
  inner:
    wdir: work
    cmd: python inner.py
    outs:
      - result.txt
    metrics:
      - inner.json:
          cache: false
"""


@pytest.fixture(scope="session")
def dvc3_project(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    with isolated_environ(session_home):
        base = tmp_path_factory.mktemp("doors")
        root = init_repo(base / "project")
        write_tree(
            root,
            {
                "dvc.yaml": PIPELINE,
                "make.py": MAKE,
                "params.yaml": "n: 3\n",
                "extra.yaml": "scale: 1e-3\n",
                "top.json": '{"top": 1}\n',
                "sub/dvc.yaml": SUB_PIPELINE,
                "sub/work/inner.py": INNER,
            },
        )
        dvc(root, "repro", "-q", "--all-pipelines")
        dvc(root, "remote", "add", "-d", "store", str(base / "remote"))
        dvc(root, "push", "-q")
        commit_all(root, "reproduce")
        return root
