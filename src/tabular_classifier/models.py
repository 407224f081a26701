"""The estimators that conf/model/ can name, and how to build one from its params."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

ESTIMATORS: dict[str, type[ClassifierMixin]] = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
    "linear_svm": SVC,
}

# Settings that change between machines or runs, never taken from config: n_jobs is
# saved inside the model file and would make the same model hash differently.
FORBIDDEN = {"n_jobs", "verbose", "warm_start"}


def build_estimator(name: str, hyperparameters: Mapping[str, Any], seed: int) -> ClassifierMixin:
    """Instantiate the estimator ``name`` with ``hyperparameters`` and a pinned seed."""
    try:
        cls = ESTIMATORS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose one of {', '.join(sorted(ESTIMATORS))}"
        ) from None
    params = dict(hyperparameters or {})
    bad = sorted(FORBIDDEN & params.keys())
    if bad:
        raise ValueError(f"model.params may not set {bad}: they vary between machines")
    accepted = inspect.signature(cls).parameters
    unknown = sorted(k for k in params if k not in accepted)
    if unknown:
        raise ValueError(f"{cls.__name__} has no hyperparameter {unknown}")
    if "random_state" in accepted:
        params["random_state"] = seed
    return cls(**params)
