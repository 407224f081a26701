"""A loaded release: which release it is, the model, its input schema.

``load`` is the only place that unpickles, and it takes bytes whose md5 the caller
has already checked against the release's manifest and dvc.lock (a pickle runs
code when loaded). It warms the model with one prediction before anyone serves it.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from typing import Any

from tether.errors import IntegrityError
from tether.serve.schema import Limits, RequestRejected, Schema, derived, parse


@dataclass(frozen=True)
class Release:
    """Which release a model is: enough to say so on every answer and in /version."""

    artifact: str
    version: str
    tag: str
    commit: str
    model_path: str  # repository path of the model file
    model_md5: str  # as the manifest and dvc.lock record it
    manifest: dict[str, Any]
    stage: str | None = None  # the stage the served reference names, if any
    origin: str = "registry"  # "registry", or "bundle DIR"

    @property
    def label(self) -> str:
        return f"{self.artifact}@{self.version}"


@dataclass(frozen=True)
class Prediction:
    labels: list[Any]
    probabilities: list[list[float]] | None
    classes: list[Any]


@dataclass(frozen=True)
class Served:
    """A model ready to answer: loaded, checked, warmed."""

    release: Release
    model: Any
    schema: Schema

    def predict(self, frame: Any, probabilities: bool = False) -> Prediction:
        labels = self.model.predict(frame)
        proba = None
        if probabilities:
            if not hasattr(self.model, "predict_proba"):
                raise RequestRejected("this model gives no probabilities (no predict_proba)")
            proba = self.model.predict_proba(frame).tolist()
        return Prediction(labels.tolist(), proba, list(self.schema.classes))


def check_md5(data: bytes, expected: str, what: str, hint: str | None = None) -> None:
    """Refuse bytes that do not hash to ``expected``, naming both hashes."""
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if actual != expected:
        raise IntegrityError(
            what,
            expected,
            actual,
            hint
            or "It was not loaded. Remove the altered copy and fetch it again "
            "(`dvc pull`), or serve another version.",
        )


def load(release: Release, model_bytes: bytes, schema_bytes: bytes | None) -> Served:
    """Unpickle ``model_bytes`` (rehashed here first), read its schema, warm it up.

    Bytes with another md5 raise IntegrityError before anything is unpickled; a
    model that fails to unpickle or to predict on one harmless row raises a
    ValueError naming the release.
    """
    check_md5(model_bytes, release.model_md5, f"model {release.model_path} of {release.label}")
    try:
        model = pickle.loads(model_bytes)
    except Exception as exc:  # a pickle can raise anything its classes raise
        raise ValueError(f"{release.label}: the model file does not load: {exc}") from exc
    schema = parse(schema_bytes, "schema.json") if schema_bytes is not None else derived(model)
    served = Served(release, model, schema)
    try:
        served.predict(schema.frame(schema.warm_up_row(), Limits()), probabilities=False)
    except Exception as exc:
        raise ValueError(f"{release.label}: the model fails its warm-up prediction: {exc}") from exc
    return served
