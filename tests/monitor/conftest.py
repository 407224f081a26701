"""Releases built once per session for the monitor tests.

``example``: the template project released twice with `tether release`:
  cancer-classifier@v0.9.0  before monitoring was configured (no profile: a release
                            "made before" profiles, whose reference is rebuilt),
  cancer-classifier@v1.0.0  with the [tool.tether.monitor] section of this
                            repository's own pyproject.toml (a stored profile).
``shop``: a tiny project whose model (one-hot + logistic regression, no pipeline
  stages but one) is trained on a categorical column, released as shop-model@v1.0.0.
Tests copy them (``example_copy``) or only read them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import PROJECT, isolated_environ
from tests.helpers import commit_all, copy_repo, dvc, git, init_repo, tether, write_tree

ARTIFACT = "cancer-classifier"


def monitor_section() -> str:
    """The [tool.tether.monitor] section of this repository's pyproject.toml: the
    example project's own configuration."""
    text = (PROJECT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r"^\[tool\.tether\.monitor\]\n(?:(?!^\[).*\n?)*", text, re.M)
    assert match, "pyproject.toml must configure [tool.tether.monitor]"
    return match.group(0)


@dataclass(frozen=True)
class Example:
    root: Path
    old: str  # released before monitoring was configured
    new: str  # released with a profile


@pytest.fixture(scope="session")
def example(
    reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory, session_home: Path
) -> Example:
    with isolated_environ(session_home):
        root = copy_repo(reproduced_template, tmp_path_factory.mktemp("monitor") / "example")
        before = git(root, "rev-parse", "HEAD")
        write_tree(root, {"pyproject.toml": monitor_section()})
        commit_all(root, "monitor the release against its training data")
        tether(root, "release", ARTIFACT, "--version", "v1.0.0", check=True)
        # v0.9.0: the same data and model released before profiles existed (its
        # manifest has no profile), tagged by hand to save a second release.
        message = git(root, "tag", "-l", "--format=%(contents)", f"{ARTIFACT}@v1.0.0")
        _, _, body = message.partition("\ntether-manifest:\n")
        manifest = json.loads(body)
        del manifest["profile"]
        manifest.update(version="v0.9.0", commit=before)
        text = f"Release {ARTIFACT} v0.9.0\n\ntether-manifest:\n{json.dumps(manifest, indent=2)}\n"
        git(root, "tag", "-a", f"{ARTIFACT}@v0.9.0", before, "-m", text)
        return Example(root, f"{ARTIFACT}@v0.9.0", f"{ARTIFACT}@v1.0.0")


@pytest.fixture
def example_copy(example: Example, tmp_path: Path) -> Path:
    return copy_repo(example.root, tmp_path / "example")


def split_of(example: Example, name: str) -> pd.DataFrame:
    """The example's ``train`` or ``test`` split."""
    return pd.read_csv(example.root / f"data/prepared/{name}.csv")


# --- a project with a categorical column ---------------------------------------------

SHOP_TRAIN = '''\
"""Fit one-hot + logistic regression on data/train.csv; pickle it."""
import pickle

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

frame = pd.read_csv("data/train.csv")
model = Pipeline([
    ("prep", ColumnTransformer([
        ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
        ("size", StandardScaler(), ["size"]),
    ])),
    ("fit", LogisticRegression()),
])
model.fit(frame[["colour", "size"]], frame["bought"])
with open("model.pkl", "wb") as fh:
    pickle.dump(model, fh, protocol=5)
'''

SHOP_DVC = """\
stages:
  train:
    cmd: python train.py
    deps:
      - train.py
      - data/train.csv
    outs:
      - model.pkl
artifacts:
  shop-model:
    path: model.pkl
    type: model
"""

SHOP_PYPROJECT = """\
[tool.tether.monitor]
reference = "data/train.csv"
target = "bought"
categorical = ["colour"]
"""


def shop_frame(
    rows: int, seed: int, colours: tuple[str, ...] = ("red", "green", "blue")
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(list(colours), rows)
    size = np.round(rng.normal(10, 2, rows), 3)
    bought = ((size > 10) ^ (colour == colours[0])).astype(int)
    return pd.DataFrame({"colour": colour, "size": size, "bought": bought})


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    with isolated_environ(session_home):
        root = init_repo(tmp_path_factory.mktemp("shop") / "shop")
        dvc(root, "remote", "add", "-d", "local", str(root.parent / "remote"))
        write_tree(
            root, {"train.py": SHOP_TRAIN, "dvc.yaml": SHOP_DVC, "pyproject.toml": SHOP_PYPROJECT}
        )
        (root / "data").mkdir()
        shop_frame(400, 1).to_csv(root / "data/train.csv", index=False)
        dvc(root, "add", "-q", "data/train.csv")
        dvc(root, "repro", "-q")
        commit_all(root, "shop model")
        tether(root, "release", "shop-model", check=True)
        return root
