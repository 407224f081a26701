"""Why a rebuild's bytes differ, and whether a rebuild that cannot be bit-exact is
equivalent.

The layers are read from the records, outermost first: packages, Python, platform
(architecture, OS and kernel, libc), each also from the commit's uv.lock
(``tether.envlock``) when it has one, then numerics (profile, BLAS kernel and threads, numpy's SIMD
levels, libm's variants, CPU). When no recorded layer differs, the stage that wrote
the first differing output is run a second time on this machine: other bytes again
prove it nondeterministic.

The second tier: where bits cannot match (another architecture, or a CPU that cannot
run the release's numerics profile), the rebuilt model is compared with the
released one on the release's evaluation rows (``[tool.tether.monitor]``'s
``prediction_reference``, else its ``reference``), and the rebuilt metrics with the
recorded ones, within the tolerances the release recorded (``equivalence`` in its
manifest). That is "equivalent, not bit-exact", never bit-exact.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from packaging.utils import canonicalize_name

from tether import environment
from tether.backends import dvc, hashing
from tether.errors import TetherError
from tether.monitor import config as monitor_config
from tether.monitor import reference as monitor_reference
from tether.registry.manifest import DEFAULT_EQUIVALENCE, Manifest
from tether.verify.compare import EXACT, WITHIN_TOLERANCE

if TYPE_CHECKING:
    from tether.verify.manifest import Expected
    from tether.verify.reproduce import VerifyResult

PACKAGES, PYTHON, PLATFORM, NUMERICS = "packages", "python", "platform", "numerics"
NONDETERMINISTIC, UNKNOWN = "nondeterministic", "unknown"


@dataclass(frozen=True)
class Cause:
    layer: str  # packages, python, platform, numerics, nondeterministic, unknown
    detail: str


@dataclass
class Equivalence:
    """The second tier's verdict on a rebuild that could not be bit-exact."""

    reason: str  # why bits cannot match here
    ok: bool = False
    checks: list[str] = field(default_factory=list)  # what was compared, in words
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _environment_causes(result: VerifyResult) -> list[Cause]:
    causes = []
    for diff in result.environment:
        key = diff.key
        if key.startswith("packages."):
            name = key.split(".", 1)[1]
            causes.append(Cause(PACKAGES, f"{name} {diff.recorded} then, {diff.current} now"))
        elif key in ("python", "implementation"):
            causes.append(Cause(PYTHON, f"{key} {diff.recorded} then, {diff.current} now"))
        elif key == "machine":
            causes.append(Cause(PLATFORM, f"architecture {diff.recorded} then, {diff.current} now"))
        elif key == "platform":  # the OS and its kernel release, the libc
            causes.append(Cause(PLATFORM, f"platform {diff.recorded} then, {diff.current} now"))
    return causes + _lock_causes(result)


def _lock_causes(result: VerifyResult) -> list[Cause]:
    """How the stages' environment differs from the commit's uv.lock, less the
    packages the release's own record already names."""
    recorded = {
        canonicalize_name(d.key.split(".", 1)[1])
        for d in result.environment
        if d.key.startswith("packages.")
    }
    return [
        Cause(diff.layer, f"the commit's uv.lock: {diff.message}")
        for diff in result.lock_differences or []
        if not (diff.layer == PACKAGES and diff.subject in recorded)
    ]


def _numerics_causes(result: VerifyResult) -> list[Cause]:
    then, now = result.numerics_recorded, result.numerics_now
    if now is None:
        return []
    if then is None:
        if now.lacks:
            return [Cause(NUMERICS, f"this CPU cannot run profile {now.profile} (it lacks "
                                    f"{', '.join(now.lacks)})")]  # fmt: skip
        if not now.variables:
            return [Cause(NUMERICS, f"the commit's profile is {now.profile}: its bits belong "
                                    "to the machine that built it")]  # fmt: skip
        return []
    causes = [Cause(NUMERICS, detail) for detail in environment.numerics_differences(then, now)]
    if then.libc and now.libc and then.libc != now.libc:
        causes.append(Cause(PLATFORM, f"libc {then.libc} then, {now.libc} now"))
    return causes


def cannot_match(result: VerifyResult) -> str | None:
    """Why this rebuild cannot be bit-exact with the release, or None when it can."""
    then, now = result.numerics_recorded, result.numerics_now
    if now is not None and now.lacks:
        where = f"the emulated {result.emulated_cpu}" if result.emulated_cpu else "this CPU"
        return f"{where} cannot run profile {now.profile} (it lacks {', '.join(now.lacks)})"
    if then is not None and now is not None and then.machine and then.machine != now.machine:
        return f"it was built on {then.machine} and is rebuilt on {now.machine}"
    if then is not None and then.lacks:
        return f"the release was built without its profile ({then.profile}) applied"
    return None


def explain(
    root: Path,
    repo: Any,
    tree: Path,
    result: VerifyResult,
    expected: Expected,
    manifest: Manifest | None,
    produced: Sequence[dvc.TrackedOutput],
    ignored: Callable[[str], bool],
    rerun: Callable[[Sequence[str]], None],
) -> None:
    """Fill ``result.causes`` (and ``result.equivalence`` where bits cannot match)."""
    causes = _environment_causes(result) + _numerics_causes(result)
    if not causes:
        causes = _run_twice(tree, result, produced, ignored, rerun)
    result.causes = causes
    reason = cannot_match(result)
    if reason is not None and manifest is not None:
        result.equivalence = equivalence(root, tree, result, expected, manifest, reason)


def _run_twice(
    tree: Path,
    result: VerifyResult,
    produced: Sequence[dvc.TrackedOutput],
    ignored: Callable[[str], bool],
    rerun: Callable[[Sequence[str]], None],
) -> list[Cause]:
    """Nothing recorded differs: run the first stage whose output differs again and
    compare its outputs with the first rebuild."""
    bad = [o for o in result.outputs if o.status not in (EXACT, WITHIN_TOLERANCE)]
    if not bad:
        return []
    order = list(dict.fromkeys(o.stage for o in result.outputs))
    stage = min((o.stage for o in bad), key=order.index)
    first = {o.path: o.reproduced for o in result.outputs if o.stage == stage}
    rerun([stage])
    second = {
        out.path: hashing.output_md5(tree / out.path, ignored)
        for out in produced
        if out.stage == stage
    }
    changed = [path for path in first if first[path] != second.get(path)]
    if changed:
        return [
            Cause(
                NONDETERMINISTIC,
                f"stage {stage!r} wrote other bytes when run twice on this machine "
                f"({path}: {first[path]} then {second.get(path)})",
            )
            for path in changed
        ]
    return [
        Cause(
            UNKNOWN,
            f"no recorded layer differs and stage {stage!r} gives the same bytes twice here: "
            "something the records do not hold differs (an input outside dvc.yaml, a file "
            "the stage reads without declaring it, or a package not in the manifest)",
        )
    ]


# --- the second tier ---------------------------------------------------------------


def _tolerances(manifest: Manifest) -> dict[str, float]:
    found = dict(DEFAULT_EQUIVALENCE)
    found.update({k: float(v) for k, v in (manifest.equivalence or {}).items()})
    return found


def _evaluation_rows(root: Path, tree: Path, manifest: Manifest) -> tuple[str, Any] | None:
    """The release's evaluation rows (as rebuilt in ``tree``), without the label."""
    import pandas as pd

    config = monitor_config.load(tree)
    path = config.prediction_reference or config.reference
    if not path or not (tree / path).is_file():
        return None
    frame = pd.read_csv(tree / path)
    target = monitor_reference.target_column(config, manifest.params)
    if target and target in frame.columns:
        frame = frame.drop(columns=[target])
    return path, frame


def equivalence(
    root: Path,
    tree: Path,
    result: VerifyResult,
    expected: Expected,
    manifest: Manifest,
    reason: str,
) -> Equivalence:
    """Compare the rebuilt model and metrics with the release's, within tolerances."""
    verdict = Equivalence(reason=reason)
    tolerance = _tolerances(manifest)
    _compare_metrics(result, tolerance["metrics_atol"], verdict)
    try:
        _compare_predictions(root, tree, manifest, tolerance["predictions_atol"], verdict)
    except TetherError as exc:
        verdict.failures.append(f"the predictions could not be compared: {exc.message}")
    verdict.ok = bool(verdict.checks) and not verdict.failures
    return verdict


def _compare_metrics(result: VerifyResult, atol: float, verdict: Equivalence) -> None:
    for metric in result.metrics:
        if metric.status in (EXACT, WITHIN_TOLERANCE):
            continue
        old, new = metric.recorded, metric.reproduced
        if isinstance(old, int | float) and isinstance(new, int | float):
            gap = abs(float(new) - float(old))
            if math.isfinite(gap) and gap <= atol:
                continue
            verdict.failures.append(f"metric {metric.name}: {old} recorded, {new} rebuilt")
        else:
            verdict.failures.append(f"metric {metric.name}: {old!r} recorded, {new!r} rebuilt")
    if result.metrics:
        verdict.checks.append(f"{len(result.metrics)} metrics within {atol:g} of the recorded")


def _compare_predictions(
    root: Path, tree: Path, manifest: Manifest, atol: float, verdict: Equivalence
) -> None:
    rebuilt_path = tree / manifest.path
    if not rebuilt_path.is_file():
        verdict.failures.append(f"the rebuild wrote no model at {manifest.path}")
        return
    rows = _evaluation_rows(root, tree, manifest)
    if rows is None:
        verdict.failures.append(
            "no evaluation rows to compare predictions on: set prediction_reference in "
            "[tool.tether.monitor]"
        )
        return
    path, frame = rows
    released = monitor_reference.load_model(root, manifest)
    rebuilt = pickle.loads(rebuilt_path.read_bytes())  # built just now from the release's code
    old = np.asarray(monitor_reference.predict(released, frame), dtype=float)
    new = np.asarray(monitor_reference.predict(rebuilt, frame), dtype=float)
    gap = float(np.max(np.abs(old - new))) if len(old) else 0.0
    if old.shape != new.shape or not math.isfinite(gap) or gap > atol:
        verdict.failures.append(
            f"the rebuilt model's predictions on {path} differ from the release's by up to "
            f"{gap:.3g} (tolerance {atol:g})"
        )
    else:
        verdict.checks.append(
            f"predictions on {len(frame)} rows of {path} within {atol:g} of the release's "
            f"(largest difference {gap:.3g})"
        )


def layers(causes: Sequence[Cause]) -> list[str]:
    """The layers named, in order, each once."""
    return list(dict.fromkeys(c.layer for c in causes))
