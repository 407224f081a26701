"""The numpy route (tether.serve.direct): taken only where it answers bit for bit as
the model's own predict, refused for shapes it does not know, and left for the
model's own path whenever it fails at request time."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.serve.conftest import Trained, release_for


def columns_of(frame: pd.DataFrame) -> dict[str, list[Any]]:
    return {name: frame[name].tolist() for name in frame.columns}


def test_the_example_pipeline_is_routed_and_answers_bit_for_bit(trained: Trained):
    from tether.serve.model import load

    served = load(release_for(trained), trained.model_bytes, trained.schema_bytes)
    assert served.direct is not None, "the example's pipeline should take the numpy route"
    from tabular_classifier.ingest import load_table

    table = load_table("sklearn:breast_cancer", "target").drop(columns=["target"])
    for rows in (table.head(1), table.iloc[5:7], table.head(64), table):
        request = columns_of(rows)
        # the frame the plain path builds: the same values as ``rows``, but its memory
        # layout can change the last bit of a BLAS sum, so that is what is compared
        frame = served.schema.frame(request)
        got_labels, got_proba = served.direct.predict(request, probabilities=True)
        assert np.array_equal(got_labels, trained.model.predict(frame))
        assert np.array_equal(got_proba, trained.model.predict_proba(frame))
        answer = served.predict(request, probabilities=True)
        assert answer.labels == trained.model.predict(rows).tolist()
        assert answer.probabilities is not None
        assert np.allclose(answer.probabilities, trained.model.predict_proba(rows), rtol=1e-12)


def mixed_pipeline(transformer: Any = None) -> tuple[Any, pd.DataFrame, bytes]:
    """Numbers scaled, a coded category and a string one-hot encoded; ``transformer``
    replaces the numeric branch when given."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(7)
    n = 80
    frame = pd.DataFrame(
        {
            "height": rng.normal(170, 10, n),
            "weight": rng.normal(70, 15, n),
            "grade": rng.integers(1, 4, n),
            "city": rng.choice(["oslo", "lima", "pune"], n),
        }
    )
    target = (frame["height"] + 0.5 * frame["weight"] > 205).astype(int)
    numeric = transformer or make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    model = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        ("numeric", numeric, ["height", "weight"]),
                        (
                            "categorical",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                            ),
                            ["grade", "city"],
                        ),
                    ]
                ),
            ),
            ("estimator", LogisticRegression(max_iter=5000)),
        ]
    ).fit(frame, target)
    schema = {
        "columns": [
            {"name": "height", "kind": "number"},
            {"name": "weight", "kind": "number"},
            {"name": "grade", "kind": "integer"},
            {"name": "city", "kind": "string"},
        ],
        "classes": [0, 1],
    }
    return model, frame, json.dumps(schema).encode()


def load_model(model: Any, schema: bytes) -> Any:
    from tether.serve.model import load

    data = pickle.dumps(model)
    trained = Trained(model, None, schema, data)
    return load(release_for(trained), data, schema)


def test_categories_and_missing_values_take_the_route_with_the_same_answers():
    model, frame, schema = mixed_pipeline()
    served = load_model(model, schema)
    assert served.direct is not None
    request = {
        "height": [180.0, None, 150.5],
        "weight": [90.0, 60.0, None],
        "grade": [2, None, 3],
        "city": ["lima", "tokyo", None],  # an unknown city and a missing one
    }
    answer = served.predict(request, probabilities=True)
    frame = served.schema.frame(request)
    assert answer.labels == model.predict(frame).tolist()
    assert answer.probabilities == model.predict_proba(frame).tolist()


def doubles_frames_only(x: Any) -> Any:
    """A step that answers otherwise on numpy: the route would give other answers."""
    return x * 2.0 if isinstance(x, pd.DataFrame) else np.asarray(x, dtype=float)


def test_a_step_that_answers_otherwise_on_numpy_keeps_the_models_own_path():
    from sklearn.preprocessing import FunctionTransformer

    sneaky = FunctionTransformer(doubles_frames_only)
    model, frame, schema = mixed_pipeline(sneaky)
    served = load_model(model, schema)
    assert served.direct is None
    assert "pandas frame" in served.path
    request = columns_of(frame.head(5))
    assert served.predict(request).labels == model.predict(frame.head(5)).tolist()


def as_column(values: Any) -> Any:
    return np.asarray(values, dtype=float).reshape(-1, 1)


def test_shapes_the_route_does_not_know_keep_the_models_own_path(trained: Trained):
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from tether.serve.direct import plan
    from tether.serve.schema import parse

    schema = parse(trained.schema_bytes, "schema.json")
    x = trained.frame
    y = np.arange(len(x)) % 2
    names = list(x.columns)

    def pipeline(*transformers: Any) -> Any:
        steps = [
            ("pre", ColumnTransformer(list(transformers))),
            ("lr", LogisticRegression(max_iter=5000)),
        ]
        return Pipeline(steps).fit(x, y)

    assert plan(LogisticRegression(max_iter=5000).fit(x, y), schema) is None  # no ColumnTransformer
    one_column = pipeline(
        ("n", StandardScaler(), names[1:]), ("one", FunctionTransformer(as_column), names[0])
    )  # a bare name hands the step a 1-D column
    assert plan(one_column, schema) is None
    # a selector is resolved to names when the pipeline is fitted: that is routable
    assert plan(pipeline(("n", StandardScaler(), make_column_selector())), schema) is not None


def test_a_route_failing_at_request_time_answers_with_scikit_learns_own_error(
    trained: Trained,
):
    """No imputer: a missing number fails in both paths; the 400 names the model's
    refusal as the plain path words it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from tether.serve.schema import RequestRejected

    x = trained.frame
    names = list(x.columns)
    model = Pipeline(
        [
            ("pre", ColumnTransformer([("n", StandardScaler(), names)])),
            ("lr", LogisticRegression()),
        ]
    ).fit(x, np.arange(len(x)) % 2)
    served = load_model(model, trained.schema_bytes)
    assert served.direct is not None
    request = columns_of(x.head(1))
    request[names[0]] = [None]
    with pytest.raises(ValueError, match="NaN"):
        served.predict(request)
    from tether.serve.app import _predict
    from tether.serve.schema import Limits

    with pytest.raises(RequestRejected, match=r"the model refused the input: .*NaN"):
        _predict(served, request, Limits(), False)
