"""The manifest of a release, built from the commit being released: what dvc.lock
recorded (every output's and dependency's md5, the params each stage ran with),
the metrics files dvc.yaml declares, the Hydra overrides and the environment, the
whole of it as a lock (``tether.replay.lock``), and the digest of the commit's uv.lock."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tether import dvcfiles, envlock, numerics
from tether.backends.git import GitRepo
from tether.environment import capture, probe_numerics
from tether.formats import FormatError
from tether.formats import parse as parse_file
from tether.pipeline.overrides import load_overrides
from tether.registry.manifest import DEFAULT_EQUIVALENCE, Manifest
from tether.replay.lock import manifest_field as recorded_lock


def _metric_value(path: str, data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return parse_file(path, data)
    except FormatError:
        return None


def _environment() -> dict[str, Any]:
    found = capture()
    found["packages"] = {k: v for k, v in found["packages"].items() if v is not None}
    return found


def build(
    root: Path, git: GitRepo, commit: str, artifact: str, version: str, path: str
) -> Manifest:
    """The manifest of ``artifact`` ``version`` built at ``commit``, read from git."""
    lock_bytes = git.read_blob(commit, dvcfiles.LOCK_FILE) or b""
    uv_lock = git.read_blob(commit, envlock.LOCK_FILE)
    project = dvcfiles.read(root, commit)

    outs: dict[str, str] = {}
    deps: dict[str, str] = {}
    params: dict[str, dict[str, Any]] = {}
    for stage in project.stages:
        deps.update((item.path, item.md5) for item in stage.deps if item.md5)
        outs.update((item.path, item.md5) for item in stage.outs if item.md5)
        for file, values in stage.locked_params.items():
            params.setdefault(file, {}).update(values)

    metrics = {}
    for metric in project.metrics_files:
        # Metrics kept in Git (cache: false) are read from the commit; DVC-cached ones
        # from the workspace, which `tether check` has just proved matches it.
        blob = git.read_blob(commit, metric)
        if blob is None and (root / metric).is_file():
            blob = (root / metric).read_bytes()
        metrics[metric] = _metric_value(metric, blob)

    return Manifest(
        artifact=artifact,
        version=version,
        path=path,
        commit=commit,
        dvc_lock_sha256=hashlib.sha256(lock_bytes).hexdigest(),
        metrics={p: m for p, m in metrics.items() if m is not None},
        params={f: dict(sorted(v.items())) for f, v in sorted(params.items())},
        outs=dict(sorted(outs.items())),
        deps=dict(sorted(deps.items())),
        overrides=load_overrides(root),
        **_environment(),
        lock=recorded_lock(),
        numerics=probe_numerics(numerics.of_project(root), root).to_dict(),
        equivalence=dict(DEFAULT_EQUIVALENCE),
        uv_lock=(
            {"path": envlock.LOCK_FILE, "sha256": hashlib.sha256(uv_lock).hexdigest()}
            if uv_lock is not None
            else {}
        ),
    )
