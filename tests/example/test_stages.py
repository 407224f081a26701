"""The example pipeline's pure functions, on small frames built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import skip_if_example_replaced

skip_if_example_replaced()

from tabular_classifier.evaluate import evaluate  # noqa: E402 (after the skip)
from tabular_classifier.features import build_preprocessor, select_columns  # noqa: E402
from tabular_classifier.ingest import load_table  # noqa: E402
from tabular_classifier.models import ESTIMATORS, build_estimator  # noqa: E402
from tabular_classifier.prepare import split  # noqa: E402
from tabular_classifier.train import fit  # noqa: E402


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 80
    return pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),
            "income": np.where(rng.random(n) < 0.1, np.nan, rng.normal(3, 1, n)),
            "city": rng.choice(["oslo", "lima", None], n),
            "target": np.tile([0, 1], n // 2),
        }
    )


def test_bundled_dataset_loads_without_network():
    frame = load_table("sklearn:breast_cancer", "target")
    assert frame.shape == (569, 31)
    assert set(frame["target"].unique()) == {0, 1}


def test_csv_source_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a bundled data set"):
        load_table(str(tmp_path / "missing.csv"), "target")


def test_split_is_stratified_and_deterministic(mixed_frame):
    a_train, a_test = split(mixed_frame, "target", 0.25, seed=7)
    b_train, b_test = split(mixed_frame, "target", 0.25, seed=7)
    pd.testing.assert_frame_equal(a_train, b_train)
    pd.testing.assert_frame_equal(a_test, b_test)
    assert not set(a_train.index) & set(a_test.index)
    assert len(a_test) == 20
    assert a_test["target"].mean() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="test_size must be between 0 and 1"):
        split(mixed_frame, "target", 1.5, seed=7)


def test_select_columns_defaults_to_every_other_column(mixed_frame):
    numeric, categorical = select_columns(mixed_frame, "target", None, ["city"])
    assert numeric == ["age", "income"]
    assert categorical == ["city"]
    with pytest.raises(KeyError, match="nope"):
        select_columns(mixed_frame, "target", ["nope"], [])
    with pytest.raises(ValueError, match="both numeric and categorical"):
        select_columns(mixed_frame, "target", ["city"], ["city"])


def test_preprocessor_imputes_scales_and_one_hot_encodes(mixed_frame):
    pre = build_preprocessor(["age", "income"], ["city"], {"scale": True})
    out = pre.fit_transform(mixed_frame.drop(columns=["target"]))
    assert not np.isnan(out).any()
    assert list(pre.get_feature_names_out()) == ["age", "income", "city_lima", "city_oslo"]


def test_build_estimator_refuses_machine_dependent_and_unknown_settings():
    assert set(ESTIMATORS) >= {"logistic_regression", "random_forest", "hist_gradient_boosting"}
    with pytest.raises(ValueError, match="n_jobs"):
        build_estimator("random_forest", {"n_jobs": 4}, seed=1)
    with pytest.raises(ValueError, match="no hyperparameter"):
        build_estimator("random_forest", {"n_trees": 4}, seed=1)
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        build_estimator("svm", {}, seed=1)
    assert build_estimator("random_forest", {"n_estimators": 5}, seed=3).random_state == 3
    svm = build_estimator("linear_svm", {"C": 0.5}, seed=2)
    assert (svm.method, svm.ensemble) == ("sigmoid", False)  # calibrated: probabilities
    assert (svm.estimator.kernel, svm.estimator.C) == ("linear", 0.5)
    with pytest.raises(ValueError, match=r"model\.params\.kernel is always 'linear'"):
        build_estimator("linear_svm", {"kernel": "rbf"}, seed=1)


@pytest.mark.parametrize("model", sorted(ESTIMATORS))
def test_every_model_trains_and_scores_the_mixed_frame(mixed_frame, model):
    dataset = {"target": "target", "features": {"numeric": None, "categorical": ["city"]}}
    pipeline = fit(mixed_frame, dataset, {"name": model, "params": {}}, seed=0)
    result = evaluate(pipeline, mixed_frame, "target", threshold=0.5)
    assert set(result.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert list(result.roc.columns) == ["fpr", "tpr"]
    assert list(result.confusion.columns) == ["actual", "predicted"]


def test_training_refuses_a_target_that_is_not_0_1(mixed_frame):
    frame = mixed_frame.assign(target=["yes", "no"] * (len(mixed_frame) // 2))
    dataset = {"target": "target", "features": {"numeric": None, "categorical": ["city"]}}
    with pytest.raises(ValueError, match="must hold 0 and 1"):
        fit(frame, dataset, {"name": "random_forest", "params": {}}, seed=0)
