"""Renderers of what the registry reads: aligned plain-text columns and JSON.

``tether show --json`` and ``tether log --json`` are laid out byte for byte as GTO
prints them (``gto_json``); ``tether manifest --json`` prints strict JSON data. Text
lines are printed without markup interpretation, so names from tags print as
written. What the registry's writers did (release, promote...) is rendered by
``tether.release.render``.
"""

from __future__ import annotations

import json
from typing import Any

from tether.registry.manifest import ReleaseRecord
from tether.registry.state import Event, Shown


def columns(header: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned plain-text columns: readable in a terminal, greppable in a pipe."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def gto_json(data: Any) -> str:
    """JSON laid out byte for byte as GTO prints it (indent 4, ASCII escapes)."""
    return json.dumps(data, indent=4) + "\n"


# --- reading ------------------------------------------------------------------------


def show_lines(shown: Shown) -> list[str]:
    """``tether show``: one row per artifact, its latest version and each stage."""
    if not shown.artifacts:
        return ["The registry is empty. Release a model with `tether release NAME`."]
    stages = shown.stages
    return columns(
        ["artifact", "latest", *[f"#{s}" for s in stages]],
        [
            [artifact, info["version"] or "-", *[info["stage"][s] or "-" for s in stages]]
            for artifact, info in shown.artifacts.items()
        ],
    )


def log_json(events: list[Event]) -> str:
    """``tether log --json``: the fields of ``gto history --json``."""
    return gto_json([e.to_dict() for e in events])


def log_lines(events: list[Event]) -> list[str]:
    """``tether log``: one row per event, newest first."""
    if not events:
        return ["No registry events."]
    return columns(
        ["time", "artifact", "event", "version", "stage", "commit", "tag"],
        [
            [
                e.timestamp.strftime("%Y-%m-%d %H:%M:%S %z"),
                e.artifact,
                e.action.value,
                e.version[:7] if len(e.version) == 40 else e.version,
                e.stage or "-",
                e.commit[:7],
                e.tag,
            ]
            for e in events
        ],
    )


def manifest_json(record: ReleaseRecord) -> dict[str, Any]:
    """``tether manifest --json``: the tag, its human line and the manifest's fields."""
    return {
        "tag": record.tag,
        "summary": record.summary,
        "deregistered": record.deregistered,
        **record.manifest.to_dict(),
    }


def manifest_lines(record: ReleaseRecord) -> list[str]:
    """``tether manifest``: one field per row, then metrics, params, outs and deps."""
    m = record.manifest
    rows = [
        ["tag", record.tag],
        ["summary", record.summary],
        *([["deregistered", f"yes, by tag {record.deregistered}"]] if record.deregistered else []),
        ["artifact", f"{m.artifact} {m.version} ({m.path})"],
        ["commit", m.commit],
        ["dvc.lock sha256", m.dvc_lock_sha256],
        *([[f"{m.uv_lock.get('path')} sha256", m.uv_lock.get("sha256", "")]] if m.uv_lock else []),
        ["overrides", " ".join(m.overrides) or "(none)"],
        ["python", m.python],
        *([["platform", m.platform]] if m.platform else []),
        ["packages", ", ".join(f"{k} {v}" for k, v in m.packages.items())],
    ]
    for path, values in m.metrics.items():
        flat = values.items() if isinstance(values, dict) else [("value", values)]
        rows.extend([f"metric {path}:{k}", str(v)] for k, v in flat)
    for path, values in m.params.items():
        rows.extend([f"param {path}:{k}", str(v)] for k, v in values.items())
    rows.extend([f"out {path}", md5] for path, md5 in m.outs.items())
    rows.extend([f"dep {path}", md5] for path, md5 in m.deps.items())
    return columns(["field", "value"], rows)
