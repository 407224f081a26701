"""Gather the report: the metrics diff and its gates (tether.metrics), the
registry's stages and releases (tether.registry), into a ``Report`` value.

This is the only module of the report that knows those two APIs; the renderer
works on the ``Report`` alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tether.backends.git import GitRepo
from tether.errors import TetherError
from tether.metrics.collect import Collector
from tether.metrics.diff import METRICS, PARAMS, compare
from tether.metrics.gates import evaluate_gates, is_lower_better, load_config, parse_rule
from tether.registry.state import load as load_registry
from tether.report.model import ArtifactView, Change, Gate, Report, Series, StageView, Uncharted
from tether.revisions import resolve

# Metrics charted per artifact: every gated one, then those this change moves, then
# the others (alphabetically) while there is room.
CHARTED_MAX = 4


def build_report(
    root: Path,
    base: str,
    head: str | None = None,
    *,
    fail_on: list[str] | tuple[str, ...] = (),
    releases: int = 5,
    artifacts_url: str | None = None,
) -> Report:
    """The report of ``head`` (a revision, or the workspace when None) against ``base``.

    Gates are ``fail_on``, or those configured under ``[tool.tether]`` in the base
    revision's pyproject.toml (so the head cannot loosen them). The registry
    part covers every artifact: its stages (this head against each), and the
    metric history of its last ``releases`` versions.
    """
    with GitRepo(root) as git:
        return _build_report(
            git, root, base, head, fail_on=fail_on, releases=releases, artifacts_url=artifacts_url
        )


def _build_report(
    git: GitRepo,
    root: Path,
    base: str,
    head: str | None = None,
    *,
    fail_on: list[str] | tuple[str, ...] = (),
    releases: int = 5,
    artifacts_url: str | None = None,
) -> Report:
    collector = Collector(root, git)
    base_commit = resolve(git, base)
    old = collector.at_commit(base, base_commit)
    if head is None:
        head_label, head_commit = "workspace", git.head()
        new = collector.at_workspace()
    else:
        head_label, head_commit = head, resolve(git, head)
        new = collector.at_commit(head, head_commit)
    diff = compare(old, new)
    config = _base_config(git, base_commit, load_config)
    lower = config.lower_is_better
    rules = list(fail_on) or list(config.fail_on)

    report = Report(
        base=base,
        head=head_label,
        base_commit=base_commit,
        head_commit=head_commit,
        metrics=_changes([r for r in diff.rows if r.kind == METRICS], lower),
        params=_changes(diff.changed(PARAMS), lower),
        gates=[
            Gate(v.rule, v.metric, v.passed, v.message) for v in evaluate_gates(diff, rules, lower)
        ],
        errors=[
            f"{e.path} at {rev}: {e.message}. Fix: {e.fix}"
            for rev, errs in diff.errors.items()
            for e in errs
        ],
        artifacts_url=artifacts_url,
        head_is_workspace=head is None,
    )
    gated = [parse_rule(rule).metric for rule in rules]
    changed = {(m.path, m.key) for m in report.metrics if not _same(m.old, m.new)}
    try:
        registry = load_registry(root)
    except TetherError as exc:
        report.registry_error = f"the registry could not be read: {exc.message}"
        return report
    try:
        # A shallow CI checkout may miss the tag that moved a stage: no stale stages.
        registry.require_complete("comparing with the registry's stages")
    except TetherError as exc:
        report.registry_error = f"{exc.message}. {exc.hint}"
        return report
    for artifact in sorted(registry.artifacts.values(), key=lambda a: a.name):
        if not artifact.deprecated:
            _add_artifact(report, artifact, collector, new, lower, gated, changed, releases)
    return report


def _changes(rows: list[Any], lower: Any) -> list[Change]:
    return [Change(r.path, r.key, r.old, r.new, is_lower_better(r, lower)) for r in rows]


def _add_artifact(
    report: Report,
    artifact: Any,
    collector: Collector,
    new: Any,
    lower: Any,
    gated: list[str],
    changed: set[tuple[str, str]],
    releases: int,
) -> None:
    """The head against each stage of ``artifact``, and the metric history of its
    last ``releases`` versions."""

    def metric_changes(snapshot: Any) -> list[Change]:
        return _changes([r for r in compare(snapshot, new).rows if r.kind == METRICS], lower)

    stages = []
    for stage, version in sorted(artifact.stages.items()):
        found = artifact.versions.get(version)
        if found is None:
            continue
        snap = collector.at_commit(f"{artifact.name}#{stage}", found.commit)
        error = "; ".join(f"{e.path}: {e.message}" for e in snap.errors) or None
        stages.append(StageView(stage, version, found.commit, metric_changes(snap), error))
    report.artifacts.append(ArtifactView(artifact.name, artifact.latest, stages))

    live = artifact.live_versions[-releases:] if releases > 0 else []
    if live:
        snaps = [collector.at_commit(v.version, v.commit) for v in live]
        series, left_out = _series([v.version for v in live], snaps, new, gated, changed)
        report.history += [Series(artifact.name, *rest) for rest in series]
        if left_out:
            report.uncharted.append(Uncharted(artifact.name, len(series), left_out))


def _base_config(git: GitRepo, base_commit: str, load_config: Any) -> Any:
    """``[tool.tether]`` as the base revision has it, not as the head does: a pull
    request must not loosen the gates that judge it. Read through the gates
    module's own loader, from a copy of the base's pyproject.toml."""
    blob = git.read_blob(base_commit, "pyproject.toml")
    with tempfile.TemporaryDirectory(prefix="tether-report-") as tmp:
        if blob is not None:
            (Path(tmp) / "pyproject.toml").write_bytes(blob)
        return load_config(Path(tmp))


def _same(old: Any, new: Any) -> bool:
    return old == new or (old != old and new != new)  # NaN == NaN here


def _series(
    labels: list[str], snaps: list[Any], head: Any, gated: list[str], changed: set[tuple[str, str]]
) -> tuple[list[tuple[str, list[str], list[float | None]]], list[str]]:
    """``(metric, labels, values)`` of each charted metric, and the names of those left out.

    Every numeric metric of the head is a candidate. Gated metrics come first and are
    all charted; then those that differ between base and head, then the rest in
    alphabetical order, up to ``CHARTED_MAX`` charts in all."""
    points = [*snaps, head]
    keys: list[tuple[str, str]] = []
    for path, values in sorted(head.metrics.items()):
        for key, value in sorted(values.items()):
            if isinstance(value, int | float) and not isinstance(value, bool):
                keys.append((path, key))
    shared = {k for _, k in keys if sum(1 for _, other in keys if other == k) > 1}

    def name(path: str, key: str) -> str:
        return f"{path}:{key}" if key in shared else key

    def rank(item: tuple[str, str]) -> int:
        path, key = item
        if key in gated or f"{path}:{key}" in gated:
            return 0
        return 1 if item in changed else 2

    ordered = sorted(keys, key=rank)  # stable: alphabetical within each rank
    room = max(CHARTED_MAX, sum(1 for k in keys if rank(k) == 0))
    out = []
    for path, key in ordered[:room]:
        values = []
        for snap in points:
            value = snap.metrics.get(path, {}).get(key)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            values.append(float(value) if ok else None)
        out.append((name(path, key), [*labels, "PR"], values))
    return out, [name(path, key) for path, key in ordered[room:]]
