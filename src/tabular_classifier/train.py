"""Stage train: fit preprocessing + estimator on the train split and save the model."""

from __future__ import annotations

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


def main() -> None:
    from tabular_classifier.params import load_params, pin_threads

    pin_threads()
    params = load_params("dataset", "model", "train")
    pipeline = fit(
        pd.read_csv(INPUT), params["dataset"], params["model"], int(params["train"]["seed"])
    )
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    MODEL.write_bytes(pickle.dumps(pipeline, protocol=PICKLE_PROTOCOL))
    print(f"train: {params['model']['name']} -> {MODEL}", file=sys.stderr)


if __name__ == "__main__":
    main()
