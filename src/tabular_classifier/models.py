"""The estimators that conf/model/ can name, and how to build one from its params."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
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

# Settings a model is always built with: what makes it the model its name says.
FIXED: dict[str, dict[str, Any]] = {"linear_svm": {"kernel": "linear"}}


def _calibrated(estimator: ClassifierMixin) -> ClassifierMixin:
    """Probabilities for a model that only has a decision function: Platt scaling
    fitted on 5-fold cross-validated decisions (folds in row order, no shuffling),
    then the model refitted on all rows (scikit-learn's replacement for
    SVC(probability=True), deprecated in 1.9)."""
    return CalibratedClassifierCV(estimator, method="sigmoid", cv=5, ensemble=False)


# Models wrapped so that they give probabilities: evaluate scores them and
# `tether serve` answers with them.
WRAPPERS: dict[str, Callable[[ClassifierMixin], ClassifierMixin]] = {"linear_svm": _calibrated}


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
    for key, value in FIXED.get(name, {}).items():
        if params.setdefault(key, value) != value:
            raise ValueError(f"model.params.{key} is always {value!r} for {name}")
    accepted = inspect.signature(cls).parameters
    unknown = sorted(k for k in params if k not in accepted)
    if unknown:
        raise ValueError(f"{cls.__name__} has no hyperparameter {unknown}")
    if "random_state" in accepted:
        params["random_state"] = seed
    model = cls(**params)
    wrap = WRAPPERS.get(name)
    return wrap(model) if wrap else model
