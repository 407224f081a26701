"""`tether diff --json` against DVC's own `dvc metrics diff --json` and
`dvc params diff --json` on the same revisions: DVC is the oracle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.helpers import dvc, tether, write_tree


def _nan_as_string(value):
    """DVC writes bare NaN; tether writes "NaN" to stay strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _nan_as_string(v) for k, v in value.items()}
    return value


def dvc_json(root: Path, *args: str) -> dict:
    data = _nan_as_string(json.loads(dvc(root, *args, "--json").stdout))
    if "--all" not in args:
        # DVC reports NaN -> NaN as a change (NaN != NaN); tether does not.
        for values in data.values():
            for key in [k for k, v in values.items() if v["old"] == v["new"] == "NaN"]:
                del values[key]
    return data


def tether_json(root: Path, *args: str) -> dict:
    proc = tether(root, "diff", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


@pytest.mark.parametrize("extra", [[], ["--all"]], ids=["changed", "all"])
def test_diff_between_tags_equals_dvc(project: Path, extra: list[str]) -> None:
    ours = tether_json(project, "v1.0.0", "v1.1.0", *extra)
    metrics = dvc_json(project, "metrics", "diff", "v1.0.0", "v1.1.0", *extra)
    params = dvc_json(project, "params", "diff", "v1.0.0", "v1.1.0", *extra)
    assert ours["metrics"] == metrics
    assert ours["params"] == params
    assert ours["errors"] == {"v1.0.0": [], "v1.1.0": []}
    # Both storage kinds and both dvc.yaml files took part.
    assert {
        "eval/cached.json",
        "eval/tracked.json",
        "summary.yaml",
        "sub/scores.yaml",
        "scalar.json",
    } <= set(metrics)
    assert ours["metrics"]["scalar.json"] == {"": {"old": 0.5, "new": 0.25, "diff": -0.25}}
    assert ours["metrics"]["eval/tracked.json"]["ok"] == {"old": True, "new": False, "diff": -1}
    if extra:
        assert set(params) == {
            "params.yaml",
            "extra.toml",
            "top.json",
            "sub/params.yaml",
            "sub/whole.yaml",
        }
        assert ours["params"]["top.json"]["tags"] == {"old": "['a', 'b']", "new": "['a', 'b']"}
    assert ours["metrics"]["eval/cached.json"]["test.f1"] == {
        "old": 0.7,
        "new": 0.65,
        "diff": 0.65 - 0.7,
    }
    assert ours["params"]["params.yaml"]["train.lr"] == {"old": 0.001, "new": 0.002, "diff": 0.001}


def test_diff_against_workspace_equals_dvc(project: Path) -> None:
    write_tree(
        project, {"src/cached.json": '{"acc": 0.9, "loss": 0.3, "test": {"f1": 0.75, "n": 120}}'}
    )
    write_tree(project, {"extra.toml": "depth = 5\nunused = 'y'\n"})
    dvc(project, "repro", "-q", "--all-pipelines")
    ours = tether_json(project, "v1.0.0")
    assert ours["metrics"] == dvc_json(project, "metrics", "diff", "v1.0.0")
    assert ours["params"] == dvc_json(project, "params", "diff", "v1.0.0")
    assert ours["params"]["extra.toml"] == {"depth": {"old": 3, "new": 5, "diff": 2}}
    assert set(ours["errors"]) == {"v1.0.0", "workspace"}


def test_default_is_head_against_workspace(project: Path) -> None:
    write_tree(project, {"params.yaml": "train:\n  lr: 0.5\n"})
    ours = tether_json(project)
    assert ours["params"] == dvc_json(project, "params", "diff")
    assert ours["params"]["params.yaml"]["train.lr"] == {"old": 0.002, "new": 0.5, "diff": 0.498}


def test_directory_of_cached_metrics_equals_dvc(tmp_path: Path) -> None:
    from tests.helpers import commit_all, git, init_repo

    root = init_repo(tmp_path / "dirs")
    write_tree(
        root,
        {
            "dvc.yaml": (
                "stages:\n  eval:\n    cmd: mkdir -p out && cp a.json out/a.json && cp b.yaml out/b.yaml\n"
                "    deps: [a.json, b.yaml]\n    metrics:\n      - out\n"
            ),
            "a.json": '{"acc": 0.5}',
            "b.yaml": "loss: 2\nnested:\n  x: 1\n",
        },
    )
    dvc(root, "repro", "-q")
    commit_all(root, "one")
    git(root, "tag", "one")
    write_tree(root, {"a.json": '{"acc": 0.75}', "b.yaml": "loss: 1\nnested:\n  x: 1\n"})
    dvc(root, "repro", "-q")
    commit_all(root, "two")
    ours = tether_json(root, "one", "HEAD", "--all")
    assert ours["metrics"] == dvc_json(root, "metrics", "diff", "one", "HEAD", "--all")
    assert ours["metrics"]["out/a.json"]["acc"] == {"old": 0.5, "new": 0.75, "diff": 0.25}


def test_cached_metric_missing_from_workspace_is_read_from_cache(project: Path) -> None:
    (project / "eval" / "cached.json").unlink()
    ours = tether_json(project, "v1.0.0")
    assert ours["metrics"] == dvc_json(project, "metrics", "diff", "v1.0.0")
    assert ours["metrics"]["eval/cached.json"]["acc"] == {
        "old": 0.8,
        "new": 0.85,
        "diff": 0.85 - 0.8,
    }
