"""A release's reference for monitoring: its profile, its training data, its model.

At release time (``store_profile``, called by ``tether release``) the training
data named in ``[tool.tether.monitor]`` is profiled together with the model's
predictions on it, and the profile is stored as one DVC object: in the local cache
and pushed to the default DVC remote, next to the data it summarises, with its md5
in the manifest. A fresh clone reads it like any released output, through
``tether.objects.fetch`` (every byte rehashed). Releases made before profiles
existed get theirs built on the spot from the training data the manifest pins by
md5. A model is unpickled only after its bytes hash to the manifest's md5.
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tether import objects
from tether.backends import dvc
from tether.errors import ConfigError, ExternalError, IntegrityError, TetherWarning, UsageError
from tether.monitor import config as configs
from tether.monitor import data
from tether.monitor.profile import Profile, build
from tether.registry import manifest as manifests
from tether.revisions import release

STORED = "stored"  # the profile recorded with the release
REBUILT = "rebuilt"  # built now from the training data (none stored, or lost and different)
RAW = "raw"  # the training data's rows themselves (--exact)


@dataclass(frozen=True)
class Reference:
    ref: str
    record: manifests.ReleaseRecord
    profile: Profile
    config: configs.MonitorConfig
    origin: str  # STORED, REBUILT or RAW

    @property
    def manifest(self) -> manifests.Manifest:
        return self.record.manifest


def target_column(config: configs.MonitorConfig, params: dict[str, Any]) -> str | None:
    if config.target:
        return config.target
    if config.target_param:
        value = configs.param(params, config.target_param)
        if not isinstance(value, str):
            raise ConfigError(
                f"{configs.SECTION} target_param {config.target_param!r} names no column "
                "in the release's params",
                "Set `target = COLUMN` instead, or point target_param at the params key "
                "that holds the label column's name.",
            )
        return value
    return None


def categorical_columns(config: configs.MonitorConfig, params: dict[str, Any]) -> frozenset[str]:
    names = set(config.categorical)
    if config.categorical_param:
        value = configs.param(params, config.categorical_param)
        if isinstance(value, list):
            names.update(str(v) for v in value)
    return frozenset(names)


def decision_threshold(config: configs.MonitorConfig, params: dict[str, Any]) -> float:
    if config.threshold_param:
        value = configs.param(params, config.threshold_param)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return 0.5


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def load_model(root: Path, manifest: manifests.Manifest) -> Any:
    """The release's model, unpickled only once its bytes hash to the manifest's md5."""
    md5 = manifest.outs.get(manifest.path)
    if not md5:
        raise UsageError(
            f"release {manifest.artifact} {manifest.version} records no md5 for its model "
            f"{manifest.path!r}, so it cannot be loaded safely",
            "Declare the model as a DVC output of a stage, then release again.",
        )
    if md5.endswith(".dir"):
        raise UsageError(
            f"the model of {manifest.artifact} {manifest.version} is a directory "
            f"({manifest.path}); tether monitor loads a pickled model file",
            "Save the model as one pickle file.",
        )
    label = f"{manifest.artifact}@{manifest.version}"
    raw = objects.fetch(root, md5, what=f"the model {manifest.path} of {label}").read_bytes()
    actual = _md5(raw)
    if actual != md5:  # fetch hashed it; the bytes read now are the ones that count
        raise IntegrityError(f"the model {manifest.path}", md5, actual)
    try:
        return pickle.loads(raw)  # the bytes are the released model, proven above
    except Exception as exc:
        raise UsageError(
            f"the model {manifest.path} of {manifest.artifact} {manifest.version} could not "
            f"be unpickled here: {type(exc).__name__}: {exc}",
            "Install the packages it was trained with (`tether manifest REF` lists them).",
        ) from None


def predict(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's score per row: the probability of the second class for a binary
    classifier with ``predict_proba``, else ``predict``. UsageError when the model
    cannot score the frame."""
    try:
        if hasattr(model, "predict_proba"):
            scores = np.asarray(model.predict_proba(frame))
            if scores.ndim == 2 and scores.shape[1] == 2:
                return scores[:, 1].astype(np.float64)
        return np.asarray(model.predict(frame))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UsageError(
            f"the model could not score the data: {type(exc).__name__}: {first}",
            "Give the columns the model was trained on, with the same kinds of values.",
        ) from None


def _data_md5(manifest: manifests.Manifest, path: str, key: str = "reference") -> str:
    md5 = manifest.outs.get(path) or manifest.deps.get(path)
    if not md5:
        known = ", ".join(sorted({*manifest.outs, *manifest.deps})[:8])
        example = (
            "the train stage's input, e.g. data/prepared/train.csv"
            if key == "reference"
            else "rows the model was not trained on, e.g. data/prepared/test.csv"
        )
        raise ConfigError(
            f"{configs.SECTION} {key} {path!r} is not an output or dependency the release "
            f"{manifest.artifact} {manifest.version} recorded (it has: {known})",
            f"Point `{key}` at {example}.",
        )
    return md5


def build_profile(
    root: Path, manifest: manifests.Manifest, config: configs.MonitorConfig
) -> Profile:
    """The profile of the release's training data (fetched by md5) and of its model's
    predictions on it, or on ``prediction_reference`` (held-out rows) when that is
    configured; the rows are kept in it for exact tests."""
    assert config.reference is not None
    frame, md5 = _pinned_csv(root, manifest, config.reference, "reference")
    target = target_column(config, manifest.params)
    if target is not None and target not in frame.columns:
        raise ConfigError(
            f"the target column {target!r} is not in the training data {config.reference}",
            f"Set {configs.SECTION} target (or target_param) to its label column.",
        )
    model = load_model(root, manifest)
    source = {"path": config.reference, "md5": md5}
    scored = frame
    if config.prediction_reference is not None:
        scored, held_md5 = _pinned_csv(
            root, manifest, config.prediction_reference, "prediction_reference"
        )
        source |= {"predictions_on": config.prediction_reference, "predictions_md5": held_md5}
    features = scored.drop(columns=[target]) if target and target in scored else scored
    return build(
        frame,
        target,
        categorical_columns(config, manifest.params),
        predictions=predict(model, features),
        source=source,
        model={"path": manifest.path, "md5": manifest.outs.get(manifest.path, "")},
    )


def _pinned_csv(
    root: Path, manifest: manifests.Manifest, path: str, key: str
) -> tuple[pd.DataFrame, str]:
    """The table ``key`` names, as the release pinned it (by md5), and that md5."""
    md5 = _data_md5(manifest, path, key)
    what = "training data" if key == "reference" else "held-out data"
    where = f"the {what} {path} of {manifest.artifact}@{manifest.version}"
    return data.read_csv(objects.fetch(root, md5, what=where), f"{what} {path}"), md5


def store_profile(root: Path, manifest: manifests.Manifest, remote: str) -> str:
    """The release hook: profile the training data and the model's predictions, put
    the profile in the DVC cache and ``remote``, return its md5 ("" when
    ``[tool.tether.monitor]`` is not configured)."""
    config = configs.load(root)
    if not config.configured:
        return ""
    return dvc.store_object(root, build_profile(root, manifest, config).to_bytes(), remote)


def load(root: Path, ref: str, exact: bool = False) -> Reference:
    """The reference of release ``ref`` (NAME@vX.Y.Z, NAME@latest, NAME#STAGE).

    ``exact``: the training data's rows (fetched by md5) rather than the profile.
    """
    record = release(root, ref).record
    assert record is not None  # a release always has one
    config = configs.load(root)
    stored = record.manifest.profile
    lost = False
    if stored and not exact:
        try:
            raw = objects.fetch(root, stored).read_bytes()
        except IntegrityError as exc:
            if not config.configured:
                raise
            return _repaired(root, ref, record, config, exc)
        except ExternalError:
            # Gone from the cache and the remote: `dvc gc --cloud` keeps only what some
            # dvc.lock or .dvc file names, and no file names a profile. It is rebuilt
            # below from the training data the manifest pins (which dvc.lock names).
            lost = True
        else:
            if _md5(raw) != stored:
                raise IntegrityError(f"the reference profile of {ref}", stored, _md5(raw))
            profile = Profile.from_bytes(raw, f"profile {stored}")
            return Reference(ref, record, profile, config, STORED)
    if not config.configured:
        why = (
            "its stored profile is in neither the DVC cache nor the remote"
            if lost
            else ("it has no reference profile")
        )
        raise ConfigError(
            f"{ref}: {why}, and {configs.SECTION} is not configured, so there is no "
            "training data to compare with",
            "Add [tool.tether.monitor] with `reference = PATH` (the train stage's input) "
            "to pyproject.toml.",
        )
    profile = build_profile(root, record.manifest, config)
    if lost and profile.md5 == stored:
        # the same bytes as the profile recorded at release: it is the stored one
        return Reference(ref, record, profile, config, STORED)
    return Reference(ref, record, profile, config, RAW if exact else REBUILT)


def _repaired(
    root: Path,
    ref: str,
    record: manifests.ReleaseRecord,
    config: configs.MonitorConfig,
    corrupted: IntegrityError,
) -> Reference:
    """The reference when the stored profile's bytes are corrupted: rebuilt from the
    training data the manifest pins, and written back over the bad copies when the
    rebuild hashes to the recorded md5 (then it is the stored profile, byte for byte).
    Either way the user is told: a corrupted store is never mended in silence."""
    stored = record.manifest.profile
    profile = build_profile(root, record.manifest, config)
    if profile.md5 != stored:
        warnings.warn(
            TetherWarning(
                f"{corrupted.what} is corrupted (its bytes hash to {corrupted.actual}); "
                f"the profile rebuilt from the pinned training data hashes to "
                f"{profile.md5}, not {stored} (other package versions?), so the stored "
                "copies were left as they are and the rebuilt profile is used"
            ),
            stacklevel=2,
        )
        return Reference(ref, record, profile, config, REBUILT)
    written = dvc.replace_object(root, profile.to_bytes())
    warnings.warn(
        TetherWarning(
            f"{corrupted.what} is corrupted (its bytes hash to {corrupted.actual}); "
            f"rebuilt it from the training data the manifest pins and repaired "
            + ", ".join(written)
        ),
        stacklevel=2,
    )
    return Reference(ref, record, profile, config, STORED)
