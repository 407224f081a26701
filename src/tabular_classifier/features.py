"""Preprocessing built from config: which columns are numeric or categorical and what
happens to each, so a new tabular data set needs new config, not new code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def select_columns(
    frame: pd.DataFrame, target: str, numeric: Sequence[str] | None, categorical: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Resolve the configured column lists against ``frame``.

    ``numeric: null`` means every column that is neither the target nor categorical.
    """
    categorical = list(categorical or [])
    if numeric is None:
        numeric = [c for c in frame.columns if c != target and c not in categorical]
    numeric = list(numeric)
    unknown = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if unknown:
        raise KeyError(f"features name columns the data does not have: {unknown}")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"columns listed as both numeric and categorical: {both}")
    if target in numeric or target in categorical:
        raise ValueError(f"the target column {target!r} is listed as a feature")
    return numeric, categorical


def build_preprocessor(
    numeric: Sequence[str], categorical: Sequence[str], options: Mapping[str, Any]
) -> ColumnTransformer:
    """A ColumnTransformer: impute (+ scale) numeric columns, impute + one-hot categorical."""
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy=options.get("numeric_impute", "median")))
        ]
        if options.get("scale", True):
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), list(numeric)))
    if categorical:
        steps = [
            (
                "impute",
                SimpleImputer(strategy=options.get("categorical_impute", "most_frequent")),
            ),
            (
                "one_hot",
                OneHotEncoder(
                    handle_unknown=options.get("handle_unknown", "ignore"),
                    min_frequency=options.get("min_frequency"),
                    sparse_output=False,
                ),
            ),
        ]
        transformers.append(("categorical", Pipeline(steps), list(categorical)))
    if not transformers:
        raise ValueError("no feature columns configured (features.numeric, features.categorical)")
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
