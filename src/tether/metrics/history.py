"""Metrics and params across many revisions: one row per revision.

Revisions are release tags (``v1.2.0``, ``name@v1.2.0``), tags matching a glob, or
the last N commits of a branch. All of them are read through one git object
stream by one Collector, so each distinct tree and file is parsed once.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tether.backends.git import GitRepo
from tether.errors import UsageError
from tether.metrics.collect import Collector, ReadError, Snapshot
from tether.metrics.diff import raise_for_errors
from tether.registry import state
from tether.registry.tags import Action, SemVer, parse_tag, release_version
from tether.revisions import resolve


@dataclass
class HistoryRow:
    rev: str
    commit: str
    date: str
    tags: list[str]
    values: dict[str, Any]
    errors: list[ReadError] = field(default_factory=list)


@dataclass
class History:
    columns: list[str]
    rows: list[HistoryRow]
    note: str | None = None  # how the revisions were chosen, when it was not asked

    @property
    def failed(self) -> bool:
        return any(row.errors for row in self.rows)

    def raise_for_errors(self) -> None:
        """Fail closed: MetricsUnreadable if any file could not be read."""
        raise_for_errors({row.rev: row.errors for row in self.rows})

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": [
                {
                    "rev": r.rev,
                    "commit": r.commit,
                    "date": r.date,
                    "tags": r.tags,
                    "values": r.values,
                    "errors": [e.to_dict() for e in r.errors],
                }
                for r in self.rows
            ],
        }


def _labels_by_commit(git: GitRepo) -> dict[str, list[str]]:
    """What the Tags column shows per commit: plain tags and release tags
    (``NAME@vX.Y.Z``), plus ``NAME#STAGE`` for each stage a release holds now.
    The registry's assignment, unassignment and deregistration tags are history,
    not labels, and are left out."""
    labels: dict[str, list[str]] = {}
    for name, sha in git.tag_commits():
        parsed = parse_tag(name)
        if parsed is None or parsed.action is Action.REGISTER:
            labels.setdefault(sha, []).append(name)
    registry = state.read(git)
    registry.warn_incomplete("the Tags column of `tether history`")
    for artifact in registry.artifacts.values():
        for stage, version in artifact.stages.items():
            held = artifact.versions.get(version)
            if held is not None:
                labels.setdefault(held.commit, []).append(f"{artifact.name}#{stage}")
    return labels


def select_revisions(
    git: GitRepo, tags: str | None = None, branch: str | None = None, last: int | None = None
) -> list[tuple[str, str]]:
    """``(label, commit)`` pairs, oldest first.

    With ``last`` (and optionally ``branch``, default HEAD): that many commits of the
    branch's first-parent line. Otherwise tags matching the glob ``tags``, or release
    tags when no glob is given. Tags are ordered by version when they are releases
    (by name otherwise), never by tag timestamps.
    """
    if last is not None or branch is not None:
        if last is not None and last < 1:
            raise UsageError("--last must be at least 1")
        tip = resolve(git, branch or "HEAD")
        commits = git.first_parent_commits(tip, last or 10)
        return [(sha[:8], sha) for sha in reversed(commits)]
    all_tags = git.tag_commits()
    if tags is not None:
        chosen = [(name, sha) for name, sha in all_tags if fnmatch.fnmatchcase(name, tags)]
        if not chosen:
            raise UsageError(f"no tag matches {tags!r}", "List the tags with `git tag`.")
    else:
        chosen = [(name, sha) for name, sha in all_tags if release_version(name)]
        if not chosen:
            raise NoReleases(
                "no release tags (v1.2.3 or name@v1.2.3) in this repository",
                "Choose revisions with `--tags 'GLOB'` or `--last N`.",
            )
    ordered = sorted(chosen, key=lambda item: _tag_order(item[0]))
    # The registry's event tags (NAME#STAGE#N, NAME@vX.Y.Z!...) are history, not
    # revisions: a commit they mark gets one row, under its release tag when it
    # has one, and the Tags column says which stages it holds.
    events = {name for name, _ in ordered if _registry_event(name)}
    plain = {sha for name, sha in ordered if name not in events}
    rows, seen = [], set()
    for name, sha in ordered:
        if name in events and (sha in plain or sha in seen):
            continue
        seen.add(sha)
        rows.append((name, sha))
    return rows


def _tag_order(tag: str) -> tuple[bool, SemVer, str]:
    """Tags that are not releases first, by name; then releases by SemVer
    precedence (v1.0.0-rc.1 before v1.0.0), the grammar being registry.tags'."""
    version = release_version(tag)
    return (version is not None, version or SemVer("v0.0.0"), tag)


def _registry_event(tag: str) -> bool:
    parsed = parse_tag(tag)
    return parsed is not None and parsed.action is not Action.REGISTER


class NoReleases(UsageError):
    """``tether history`` with no revisions asked for, in a repository without
    release tags (it then falls back to the branch's commits)."""


FALLBACK_COMMITS = 10


def _column(path: str, key: str, ambiguous: set[str]) -> str:
    return f"{path}:{key}" if key in ambiguous else key


def history(
    root: Path,
    *,
    tags: str | None = None,
    branch: str | None = None,
    last: int | None = None,
    metrics: list[str] | None = None,
    params: list[str] | None = None,
    sort: str | None = None,
    descending: bool = False,
) -> History:
    """One row per selected revision with the chosen metrics (all, by default) and
    params (none, by default)."""
    with GitRepo(root) as git:
        return _history(
            git,
            root,
            tags=tags,
            branch=branch,
            last=last,
            metrics=metrics,
            params=params,
            sort=sort,
            descending=descending,
        )


def _history(
    git: GitRepo,
    root: Path,
    *,
    tags: str | None = None,
    branch: str | None = None,
    last: int | None = None,
    metrics: list[str] | None = None,
    params: list[str] | None = None,
    sort: str | None = None,
    descending: bool = False,
) -> History:
    note = None
    try:
        revisions = select_revisions(git, tags=tags, branch=branch, last=last)
    except NoReleases:
        revisions = select_revisions(git, last=FALLBACK_COMMITS)
        where = git.current_branch() or "HEAD"
        note = (
            f"no release tags yet: showing the last {len(revisions)} commit(s) of {where}. "
            "Choose others with `--tags 'GLOB'` or `--last N`."
        )
    tags_by_commit = _labels_by_commit(git)

    collector = Collector(root, git, params=bool(params))
    snaps: list[Snapshot] = collector.at_commits(revisions)

    metric_keys = _keys(snaps, "metrics")
    param_keys = _keys(snaps, "params")
    try:
        chosen_metrics = _choose(metric_keys, metrics, "metric") if metrics else list(metric_keys)
        chosen_params = _choose(param_keys, params, "param") if params else []
    except UsageError:
        # A column may be unknown only because its file could not be read: say that.
        raise_for_errors({snap.rev: snap.errors for snap in snaps})
        raise
    columns = chosen_metrics + [c for c in chosen_params if c not in chosen_metrics]

    chosen = [(c, "metrics", metric_keys[c]) for c in chosen_metrics]
    chosen += [(c, "params", param_keys[c]) for c in chosen_params]
    rows = [_row(snap, chosen, tags_by_commit) for snap in snaps]
    if sort is not None:
        if sort not in columns:
            raise UsageError(
                f"cannot sort by {sort!r}: not a column",
                f"Columns: {', '.join(columns) or '(none)'}.",
            )
        rows.sort(key=lambda r: _sort_key(r.values.get(sort)), reverse=descending)
    return History(columns=columns, rows=rows, note=note)


def _row(
    snap: Snapshot,
    chosen: list[tuple[str, str, tuple[str, str]]],
    tags_by_commit: dict[str, list[str]],
) -> HistoryRow:
    """One commit's row: each chosen column's value (a metric first, where a param
    has the same name), its tags and what could not be read there."""
    values: dict[str, Any] = {}
    for column, kind, (path, key) in chosen:
        read = snap.metrics if kind == "metrics" else snap.params
        values.setdefault(column, read.get(path, {}).get(key))
    assert snap.commit is not None
    return HistoryRow(
        rev=snap.rev,
        commit=snap.commit,
        date=datetime.fromtimestamp(snap.time or 0, UTC).strftime("%Y-%m-%d %H:%M"),
        tags=sorted(tags_by_commit.get(snap.commit, [])),
        values=values,
        errors=list(snap.errors),
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return (0, value)
    return (1, str(value))


def _keys(snaps: list[Snapshot], kind: str) -> dict[str, tuple[str, str]]:
    """``{column name: (path, key)}`` over every revision; a key in several files
    is named ``path:key``."""
    pairs: dict[tuple[str, str], None] = {}
    for snap in snaps:
        for path, values in getattr(snap, kind).items():
            for key in values:
                pairs[(path, key)] = None
    counts: dict[str, int] = {}
    for _, key in pairs:
        counts[key] = counts.get(key, 0) + 1
    ambiguous = {k for k, n in counts.items() if n > 1}
    return {_column(p, k, ambiguous): (p, k) for p, k in sorted(pairs)}


def _choose(available: dict[str, tuple[str, str]], wanted: list[str], what: str) -> list[str]:
    chosen = []
    for name in wanted:
        if name in available:
            chosen.append(name)
            continue
        prefixed = [c for c, (p, k) in available.items() if f"{p}:{k}" == name]
        if prefixed:
            chosen.append(prefixed[0])
            continue
        raise UsageError(
            f"no {what} {name!r} at any of these revisions",
            f"Known: {', '.join(available) or '(none)'}.",
        )
    return chosen
