"""Composition of conf/: every config group option, atomic writes, recorded overrides."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import init_repo
from tether.errors import ConfigError, UsageError
from tether.pipeline.compose import compose
from tether.pipeline.overrides import load_overrides, render_overrides, save_overrides
from tether.pipeline.run import apply

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def conf_repo(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "repo")
    shutil.copytree(PROJECT / "conf", root / "conf")
    shutil.copy(PROJECT / ".dvc/config", root / ".dvc/config")
    return root


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (PROJECT / "conf" / group).glob("*.yaml"))


def test_template_params_yaml_is_the_default_composition(conf_repo):
    assert compose(conf_repo, []).content == (PROJECT / "params.yaml").read_bytes()


@pytest.mark.parametrize("dataset", _options("dataset"))
@pytest.mark.parametrize("model", _options("model"))
def test_every_config_group_option_composes(conf_repo, model, dataset):
    params = yaml.safe_load(compose(conf_repo, [f"model={model}", f"dataset={dataset}"]).content)
    assert params["model"]["name"] == model
    assert isinstance(params["model"]["params"], dict)
    assert {"source", "target", "features", "preprocessing"} <= params["dataset"].keys()
    # Interpolations are resolved: stages read plain values.
    assert params["prepare"]["seed"] == params["seed"] == params["train"]["seed"]


def test_at_least_the_three_models_exist():
    assert {"logistic_regression", "random_forest", "hist_gradient_boosting"} <= set(
        _options("model")
    )


def test_hydra_must_be_enabled(conf_repo):
    (conf_repo / ".dvc/config").write_text("[core]\n    analytics = false\n")
    with pytest.raises(ConfigError, match="Hydra composition is not enabled") as info:
        compose(conf_repo, [])
    assert "dvc config hydra.enabled true" in (info.value.hint or "")


def test_unknown_group_option_names_the_choices(conf_repo):
    with pytest.raises(UsageError) as info:
        compose(conf_repo, ["model=svm"])
    assert "Could not find 'model/svm'" in info.value.message
    assert "hist_gradient_boosting" in info.value.message


def test_apply_writes_params_and_overrides_together(conf_repo):
    composition = compose(conf_repo, ["model=random_forest"])
    assert apply(conf_repo, composition) is True
    assert (conf_repo / "params.yaml").read_bytes() == composition.content
    assert load_overrides(conf_repo) == ["model=random_forest"]
    assert apply(conf_repo, composition) is False
    assert sorted(p.name for p in (conf_repo / ".tether").iterdir()) == ["overrides.yaml"]


def test_overrides_file_round_trips_and_rejects_garbage(conf_repo):
    save_overrides(conf_repo, ["a=1", "+b=two words"])
    assert load_overrides(conf_repo) == ["a=1", "+b=two words"]
    assert render_overrides([]).decode().endswith("overrides: []\n")
    (conf_repo / ".tether/overrides.yaml").write_text("overrides: 3\n")
    with pytest.raises(ConfigError, match="list of strings"):
        load_overrides(conf_repo)
