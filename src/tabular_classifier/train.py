"""Stage train: fit preprocessing + estimator on the train split and save the model,
with the input schema it was trained on beside it (what `tether serve` checks requests
against: column names in order, the kind of each, and the classes)."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from tabular_classifier.features import build_preprocessor, select_columns
from tabular_classifier.models import build_estimator

INPUT = Path("data/prepared/train.csv")
MODEL = Path("models/model.pkl")
SCHEMA = Path("models/schema.json")
# A fixed protocol: the same objects always pickle to the same bytes.
PICKLE_PROTOCOL = 5


def fit(
    train: pd.DataFrame,
    dataset: Mapping[str, Any],
    model: Mapping[str, Any],
    seed: int,
) -> Pipeline:
    """Fit the configured preprocessing and estimator on ``train``."""
    target = dataset["target"]
    labels = set(train[target].unique().tolist())
    if not labels <= {0, 1}:
        shown = ", ".join(sorted(map(repr, labels))[:5])
        raise ValueError(
            f"the target column {target!r} must hold 0 and 1 (this example is a binary "
            f"classifier); found {shown}. Map your labels to 0/1 in the data, or extend "
            "src/tabular_classifier for more classes."
        )
    features = dataset.get("features", {})
    numeric, categorical = select_columns(
        train, target, features.get("numeric"), features.get("categorical", [])
    )
    pipeline = Pipeline(
        [
            (
                "preprocess",
                build_preprocessor(numeric, categorical, dataset.get("preprocessing", {})),
            ),
            ("estimator", build_estimator(model["name"], model.get("params", {}), seed)),
        ]
    )
    pipeline.fit(train.drop(columns=[target]), train[target])
    return pipeline


def _kind(series: pd.Series, categorical: bool) -> str:
    """The kind of value a column holds, in the schema's words."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        # a numeric column the model scales takes any number; a coded category
        # must be a whole number
        return "integer" if categorical and pd.api.types.is_integer_dtype(series) else "number"
    return "string"


def input_schema(
    train: pd.DataFrame, dataset: Mapping[str, Any], model: Pipeline
) -> dict[str, Any]:
    """The columns the model takes (in the order it was fitted on), each with its
    kind (number, integer, string, boolean), the target's name and the classes."""
    target = dataset["target"]
    categorical = set(dataset.get("features", {}).get("categorical") or [])
    columns = [
        {"name": str(name), "kind": _kind(train[name], name in categorical)}
        for name in train.columns
        if name != target
    ]
    return {
        "schema": 1,
        "target": target,
        "columns": columns,
        "classes": [c.item() if hasattr(c, "item") else c for c in model.classes_],
    }


def main() -> None:
    from tabular_classifier.params import load_params, pin_threads

    pin_threads()
    params = load_params("dataset", "model", "train")
    train = pd.read_csv(INPUT)
    pipeline = fit(train, params["dataset"], params["model"], int(params["train"]["seed"]))
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    MODEL.write_bytes(pickle.dumps(pipeline, protocol=PICKLE_PROTOCOL))
    schema = input_schema(train, params["dataset"], pipeline)
    SCHEMA.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    print(f"train: {params['model']['name']} -> {MODEL}", file=sys.stderr)


if __name__ == "__main__":
    main()
