"""A small DVC project with Git-tracked and DVC-cached metrics, two tagged
releases and params in two files; built once per session, copied per test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import isolated_environ
from tests.helpers import commit_all, copy_repo, dvc, git, init_repo, write_tree

PIPELINE = textwrap.dedent(
    """\
    stages:
      evaluate:
        cmd: cp src/cached.json eval/cached.json && cp src/tracked.json eval/tracked.json
        deps:
          - src/cached.json
          - src/tracked.json
        params:
          - train.lr
          - model
          - extra.toml:
              - depth
        metrics:
          - eval/cached.json
          - eval/tracked.json:
              cache: false
    metrics:
      - summary.yaml
      - scalar.json
    params:
      - top.json
    """
)

SUB_PIPELINE = textwrap.dedent(
    """\
    stages:
      score:
        cmd: cp scores.src.yaml scores.yaml
        deps:
          - scores.src.yaml
        params:
          - threshold
          - whole.yaml:
        metrics:
          - scores.yaml
    """
)


def release(
    root: Path,
    version: str,
    cached: dict,
    tracked: str,
    params: str,
    scores: str,
    summary: str,
    scalar: str,
) -> None:
    import json

    write_tree(
        root,
        {
            "src/cached.json": json.dumps(cached),
            "src/tracked.json": tracked,
            "params.yaml": params,
            "summary.yaml": summary,
            "scalar.json": scalar,
            "sub/scores.src.yaml": scores,
        },
    )
    dvc(root, "repro", "-q", "--all-pipelines")
    commit_all(root, f"release {version}")
    git(root, "tag", version)


@pytest.fixture(scope="session")
def metrics_project(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    """Tags v1.0.0 and v1.1.0; do not modify (take ``project`` for a copy)."""
    with isolated_environ(session_home):
        root = init_repo(tmp_path_factory.mktemp("metrics") / "project")
        write_tree(
            root,
            {
                "dvc.yaml": PIPELINE,
                "sub/dvc.yaml": SUB_PIPELINE,
                "sub/params.yaml": "threshold: 0.5\n",
                "extra.toml": "depth = 3\nunused = 'x'\n",
                "top.json": '{"batch": {"size": 32, "shuffle": true}, "tags": ["a", "b"]}',
                "sub/whole.yaml": "opt:\n  name: adam\n  betas: [0.9, 0.999]\n",
                "eval/.gitkeep": "",
            },
        )
        release(
            root,
            "v1.0.0",
            cached={"acc": 0.8, "loss": 0.5, "test": {"f1": 0.7, "n": 100}, "skip": [1, 2]},
            tracked='{"auc": 0.9, "label": "baseline", "nan_metric": NaN, "ok": true}',
            params="train:\n  lr: 1e-3\n  epochs: 10\n  flag: yes\nmodel:\n  name: linear\n  layers: [8, 4]\n",
            scores="precision: 0.6\nrecall: 0.5\n",
            summary="best: 0.8\n",
            scalar="0.5",
        )
        release(
            root,
            "v1.1.0",
            cached={"acc": 0.85, "loss": 0.4, "test": {"f1": 0.65, "n": 100}, "skip": [1, 2]},
            tracked='{"auc": 0.9, "label": "tuned", "nan_metric": NaN, "ok": false}',
            params="train:\n  lr: 2e-3\n  epochs: 10\n  flag: no\nmodel:\n  name: mlp\n  layers: [16, 4]\n",
            scores="precision: 0.7\nrecall: 0.5\n",
            summary="best: 0.85\n",
            scalar="0.25",
        )
        return root


@pytest.fixture
def project(metrics_project: Path, tmp_path: Path) -> Path:
    return copy_repo(metrics_project, tmp_path / "project")
