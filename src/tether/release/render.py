"""Renderers of what the registry's writers did: plain lines and JSON.

``tether release``, ``promote``, ``rollback``, ``unassign`` and ``deregister`` each
say which tag they created, who holds each stage now, and, when the tag was not
pushed, the ``git push`` that publishes it.
"""

from __future__ import annotations

import shlex
from typing import Any

from tether.release.actions import Deregistered, Released, StageChange


def _pushed(remote: str | None) -> str:
    return f" and pushed it to {remote}" if remote else ""


def _publish_hint(tag: str, pushed_to: str | None) -> list[str]:
    """Without --push the tag exists only here: say how to publish it."""
    if pushed_to is not None:
        return []
    return [
        f"The tag is local only. Next: publish it with `git push origin {shlex.quote(tag)}` "
        "(or pass --push next time)."
    ]


def released_json(done: Released) -> dict[str, Any]:
    return {
        "artifact": done.artifact, "version": done.version, "tag": done.tag, "commit": done.commit,
        "dvc_remote": done.dvc_remote, "uploaded": done.uploaded, "pushed_to": done.pushed_to,
        "manifest": done.manifest.to_dict(),
    }  # fmt: skip


def released_lines(done: Released) -> list[str]:
    return [
        f"released {done.artifact} {done.version}: created tag {done.tag} at {done.commit[:8]}"
        f"{_pushed(done.pushed_to)}",
        f"DVC outputs are in remote {done.dvc_remote!r} ({done.uploaded} file(s) uploaded now). "
        f"Next: `tether promote {done.artifact} {done.version} STAGE`.",
        *_publish_hint(done.tag, done.pushed_to),
    ]


def change_json(change: StageChange) -> dict[str, Any]:
    return {
        "artifact": change.artifact, "stage": change.stage, "version": change.version,
        "tag": change.tag, "commit": change.commit, "previous": change.previous,
        "current": change.current, "pushed_to": change.pushed_to,
    }  # fmt: skip


def change_lines(change: StageChange) -> list[str]:
    """A promote, rollback or unassign: the tag made, and the stage before -> now."""
    return [
        f"created tag {change.tag}{_pushed(change.pushed_to)}; "
        f"{change.artifact} #{change.stage}: {change.previous or '(none)'} -> "
        f"{change.current or '(none)'}",
        *_publish_hint(change.tag, change.pushed_to),
    ]


def deregistered_json(done: Deregistered) -> dict[str, Any]:
    return {
        "artifact": done.artifact, "version": done.version, "tag": done.tag,
        "commit": done.commit, "pushed_to": done.pushed_to, "stages": done.stages,
    }  # fmt: skip


def deregistered_lines(done: Deregistered) -> list[str]:
    """The tag made, and what each stage the version held falls back to."""
    lines = [
        f"created tag {done.tag}{_pushed(done.pushed_to)}; "
        f"{done.artifact} {done.version} is deregistered"
    ]
    if done.stages:
        held = "; ".join(
            f"#{stage} now holds {holder}" if holder else f"#{stage} is now empty"
            for stage, holder in done.stages.items()
        )
        lines.append(f"It held {', '.join(f'#{s}' for s in done.stages)}: {held}.")
    else:
        lines.append("It held no stage.")
    return [*lines, *_publish_hint(done.tag, done.pushed_to)]
