"""A loaded release: which release it is, the model, its input schema.

``load`` is the only place that unpickles, and it takes bytes whose md5 the caller
has already checked against the release's manifest and dvc.lock (a pickle runs
code when loaded). It warms the model with one prediction before anyone serves it.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tether.errors import IntegrityError
from tether.serve import direct
from tether.serve.direct import Direct
from tether.serve.schema import RequestRejected, Schema, derived, parse

# A model whose one-row prediction takes at most this long answers small requests
# on the event loop: there, a hop to a worker thread costs more than the prediction.
# A slower model always predicts in the threadpool, so it never stalls the loop.
INLINE_SECONDS = 0.002


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
    origin: str = "registry"  # "registry", or "bundle DIR (how far it is trusted)"
    verified: bool = True  # False: a bundle served without its signature checked

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
    direct: Direct | None = None  # the model's numpy route, when proven equal (direct.py)
    # whether a small request may be answered on the event loop: a one-row prediction
    # took at most INLINE_SECONDS when the model was loaded
    inline: bool = False

    @property
    def path(self) -> str:
        """How predictions are computed, as /version says it."""
        if self.direct is not None:
            return "columns routed to the fitted steps as numpy arrays (proven equal at load)"
        return "the model's own predict on a pandas frame"

    def predict(
        self, columns: Mapping[str, Sequence[Any]], probabilities: bool = False
    ) -> Prediction:
        """Labels (and probabilities) for ``columns`` already checked by the schema."""
        if probabilities and not hasattr(self.model, "predict_proba"):
            raise RequestRejected("this model gives no probabilities (no predict_proba)")
        labels = proba = None
        if self.direct is not None:
            try:
                labels, proba = self.direct.predict(columns, probabilities)
            except (ValueError, TypeError):
                labels = None  # the plain path answers, with scikit-learn's own message
        if labels is None:
            frame = self.schema.frame(columns)
            labels = self.model.predict(frame)
            proba = self.model.predict_proba(frame) if probabilities else None
        return Prediction(
            labels.tolist(),
            proba.tolist() if proba is not None else None,
            list(self.schema.classes),
        )


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
    try:
        Served(release, model, schema).predict(schema.warm_up_row())
    except Exception as exc:
        raise ValueError(f"{release.label}: the model fails its warm-up prediction: {exc}") from exc
    served = Served(release, model, schema, direct.plan(model, schema))
    return replace(served, inline=_one_row_seconds(served) <= INLINE_SECONDS)


def _one_row_seconds(served: Served) -> float:
    """The best of a few one-row predictions (this warms the routed path too)."""
    row = served.schema.warm_up_row()
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        served.predict(row)
        timings.append(time.perf_counter() - started)
    return min(timings)
