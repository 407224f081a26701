"""The metrics API: plain functions over a repository root that return values.

    diff(root, "v1.0.0", "main")           -> MetricsDiff
    evaluate_gates(diff, ["f1<-0.01"])     -> [Verdict]
    history(root, tags="v*")               -> History

Nothing here imports ``dvc.repo``: revisions are read through one git object
stream and DVC-cached files straight from the cache directory.
"""

from __future__ import annotations

from pathlib import Path

from tether.backends.git import GitRepo
from tether.metrics.collect import WORKSPACE, Collector, ReadError, Snapshot
from tether.metrics.diff import MetricsDiff, Row, compare
from tether.metrics.gates import GateConfig, Verdict, evaluate_gates, load_config
from tether.metrics.history import History, history
from tether.revisions import resolve

__all__ = [
    "WORKSPACE",
    "GateConfig",
    "History",
    "MetricsDiff",
    "ReadError",
    "Row",
    "Verdict",
    "diff",
    "evaluate_gates",
    "history",
    "load_config",
    "snapshot",
]


def snapshot(root: Path, rev: str | None, collector: Collector | None = None) -> Snapshot:
    """Metrics and params at ``rev`` (any revision ``resolve`` accepts), or in the
    work tree when ``rev`` is None or ``"workspace"``."""
    if collector is None:
        # a collector of our own: its git processes end with this call
        with GitRepo(root) as git:
            return snapshot(root, rev, Collector(root, git))
    if rev is None or rev == WORKSPACE:
        return collector.at_workspace()
    return collector.at_commit(rev, resolve(collector.git, rev))


def diff(root: Path, a: str | None = "HEAD", b: str | None = None) -> MetricsDiff:
    """Metrics and params at ``a`` (default HEAD) against ``b`` (default the work tree)."""
    with GitRepo(root) as git:
        collector = Collector(root, git)
        old = snapshot(root, a or "HEAD", collector)
        new = snapshot(root, b, collector)
    return compare(old, new)
