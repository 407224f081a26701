"""tether.dvcfiles: the one reader of dvc.yaml and dvc.lock, and the YAML 1.2 loader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.helpers import git
from tether import dvcfiles, yaml12
from tether.backends.git import GitRepo
from tether.errors import InvalidYaml, UsageError
from tether.release import record

# The lock DVC 2.x writes: schema 2.0, md5 without `hash: md5` (old cache layout).
DVC2_LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data
      md5: 0123456789abcdef0123456789abcdef.dir
      size: 10
      nfiles: 2
    params:
      params.yaml:
        lr: 0.1
    outs:
    - path: model.pkl
      md5: fedcba9876543210fedcba9876543210
      size: 42
"""
# DVC 1.x: no schema, stages at the top level.
DVC1_LOCK = """\
train:
  cmd: python train.py
  outs:
  - path: model.pkl
    md5: fedcba9876543210fedcba9876543210
"""
PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [data]
    params: [lr]
    outs: [model.pkl]
"""


def test_reads_the_examples_own_files() -> None:
    project = dvcfiles.assemble(
        {
            "dvc.yaml": (PROJECT / "dvc.yaml").read_bytes(),
            "dvc.lock": (PROJECT / "dvc.lock").read_bytes(),
        }
    )
    assert [s.name for s in project.stages] == ["ingest", "prepare", "train", "evaluate"]
    model = project.output("models/model.pkl")
    assert model is not None and model.md5 and len(model.md5) == 32
    assert not model.legacy and model.cache and not model.metric
    assert project.metrics_files == ["reports/metrics.json"]
    metrics = project.output("reports/metrics.json")
    assert metrics is not None and metrics.metric and not metrics.cache
    assert project.artifacts["cancer-classifier"].path == "models/model.pkl"
    assert project.artifacts["cancer-classifier"].type == "model"
    train = project.stage("train")
    assert "model" in train.params["params.yaml"]
    assert "model" in train.locked_params["params.yaml"]
    assert "src/tabular_classifier/train.py" in [d.path for d in train.deps]


def test_dvc2_lock_is_legacy() -> None:
    project = dvcfiles.assemble({"dvc.yaml": PIPELINE.encode(), "dvc.lock": DVC2_LOCK.encode()})
    train = project.stage("train")
    out = project.output("model.pkl")
    assert out is not None
    assert (out.md5, out.size, out.legacy, out.is_dir) == (
        "fedcba9876543210fedcba9876543210",
        42,
        True,
        False,
    )
    data = train.deps[0]
    assert data.path == "data" and data.is_dir and data.md5.endswith(".dir")
    assert train.locked_params == {"params.yaml": {"lr": 0.1}}


def test_dvc1_lock_without_schema() -> None:
    locked = dvcfiles.parse_lock(DVC1_LOCK)
    assert locked["train"].outs[0].md5 == "fedcba9876543210fedcba9876543210"
    assert locked["train"].outs[0].legacy


def test_dvc3_lock_from_real_repro(dvc3_project: Path) -> None:
    project = dvcfiles.read(dvc3_project)
    make = project.stage("make")
    out = project.output("out.txt")
    assert out is not None and out.md5 and not out.legacy and out.size == 6
    folder = project.output("folder")
    assert folder is not None and folder.is_dir and folder.md5.endswith(".dir")
    assert project.output("metrics.json").metric  # type: ignore[union-attr]
    assert make.params == {"params.yaml": ["n"], "extra.yaml": ["scale"]}
    # YAML 1.2: 1e-3 is a float, as DVC's ruamel reads it (YAML 1.1 says string).
    assert make.locked_params == {"params.yaml": {"n": 3}, "extra.yaml": {"scale": 0.001}}
    assert project.metrics_files == ["top.json", "metrics.json", "sub/work/inner.json"]
    assert project.params_files == ["params.yaml", "extra.yaml"]
    assert project.artifacts["thing"].desc == "a file"
    # A dvc.yaml in a subfolder, with a wdir: DVC's addressing and repo-relative paths.
    inner = project.stage("sub/dvc.yaml:inner")
    assert inner.wdir == "sub/work"
    assert sorted(o.path for o in inner.outs) == ["sub/work/inner.json", "sub/work/result.txt"]
    assert inner.outs[0].md5 is not None


def test_reads_a_revision_from_git_objects(dvc3_project: Path) -> None:
    head = git(dvc3_project, "rev-parse", "HEAD")
    at_head = dvcfiles.read(dvc3_project, "HEAD")
    assert at_head.stages == dvcfiles.read(dvc3_project, head).stages
    assert at_head.stages == dvcfiles.read(dvc3_project).stages
    first = dvcfiles.read(dvc3_project, "HEAD~1")  # the commit before dvc.yaml existed
    assert first.stages == []


def test_unknown_stage_lists_the_stages(dvc3_project: Path) -> None:
    with pytest.raises(UsageError) as caught:
        dvcfiles.read(dvc3_project).stage("nope")
    assert "no stage 'nope'" in caught.value.message
    assert "make, sub/dvc.yaml:inner" in str(caught.value.hint)


def test_yaml12_scalars() -> None:
    data = yaml12.load_yaml(b"a: 1e-3\nb: yes\nc: on\nd: 0o17\ne: .inf\nf: ~\ng: 1_000\n", "p")
    assert data == {"a": 0.001, "b": "yes", "c": "on", "d": 15, "e": math.inf, "f": None, "g": 1000}


def test_bad_yaml_names_the_file() -> None:
    with pytest.raises(InvalidYaml) as caught:
        yaml12.load_yaml(b"a: [1, 2\n", "sub/dvc.lock")
    assert caught.value.message.startswith("sub/dvc.lock is not valid YAML: ")
    assert "Fix sub/dvc.lock" in str(caught.value.hint)
    with pytest.raises(InvalidYaml, match="not a mapping"):
        dvcfiles.parse_pipeline(b"- a\n- b\n", "dvc.yaml")


def test_alias_expansion_is_capped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    with pytest.raises(InvalidYaml, match="aliases expand to over"):
        yaml12.load_yaml("\n".join(lines).encode(), "bomb.yaml")
    # A few aliases are fine, and strings holding & and * take the fast path.
    assert yaml12.load_yaml(b"a: &x [1]\nb: *x\n", "ok.yaml") == {"a": [1], "b": [1]}
    assert yaml12.load_yaml(b"cmd: a && b * c\n", "ok.yaml") == {"cmd": "a && b * c"}


def test_size_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml12, "MAX_YAML_BYTES", 10)
    with pytest.raises(InvalidYaml, match="larger than"):
        yaml12.load_yaml(b"a: 1234567890\n", "big.yaml")


def test_manifest_records_metrics_of_every_dvc_yaml_with_wdir(dvc3_project: Path) -> None:
    """Was: the manifest read metrics paths as written, ignoring `wdir` and
    dvc.yaml files in subfolders, so sub/work/inner.json went unrecorded."""
    head = git(dvc3_project, "rev-parse", "HEAD")
    built = record.build(dvc3_project, GitRepo(dvc3_project), head, "thing", "v1.0.0", "out.txt")
    assert built.metrics == {
        "top.json": {"top": 1},
        "metrics.json": {"score": 0.5},
        "sub/work/inner.json": {"depth": 2},
    }
    assert set(built.outs) >= {"out.txt", "folder", "sub/work/result.txt"}
    assert built.params == {"extra.yaml": {"scale": 0.001}, "params.yaml": {"n": 3}}


def test_templating_is_found_where_dvc_must_expand_it() -> None:
    plain = dvcfiles.parse_pipeline(
        "# a comment may say ${anything}\n"
        "stages:\n  fit:\n    cmd: echo ${not_a_path}\n    metrics:\n      - m.json\n"
    )
    assert not plain.uses_templates  # a command or a comment is not a declared path
    in_a_path = dvcfiles.parse_pipeline(
        "vars:\n  - name: m\nstages:\n  fit:\n    cmd: echo\n    metrics:\n      - ${name}.json\n"
    )
    assert in_a_path.uses_templates
    looped = dvcfiles.parse_pipeline(
        "stages:\n  fit:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n"
    )
    assert looped.uses_templates
    top_level = dvcfiles.parse_pipeline("metrics:\n  - ${dir}/m.json\n")
    assert top_level.uses_templates
    assert dvcfiles.Project(pipelines=[plain, looped]).uses_templates
