"""Renderers of what the registry's writers did: plain lines and JSON.

``tether release``, ``promote``, ``rollback``, ``unassign`` and ``deregister`` each
say which tag they created, who holds each stage now, and, when the tag was not
pushed, that ``tether push`` publishes it (never ``git push`` of one tag: a stage
tag pushed alone names a version the remote may not have).
"""

from __future__ import annotations

from typing import Any

from tether.release.actions import Deregistered, Released, StageChange
from tether.release.publish import Publication


def _pushed(published: Publication | None) -> str:
    if published is None:
        return ""
    if published.carried:
        return (
            f" and pushed it to {published.remote} together with {', '.join(published.carried)}"
            " (one atomic push)"
        )
    return f" and pushed it to {published.remote}"


def _published_json(published: Publication | None) -> dict[str, Any]:
    if published is None:
        return {"pushed_to": None}
    return {
        "pushed_to": published.remote,
        "pushed": published.pushed,
        "landed": published.landed,
        "clashes": [list(pair) for pair in published.clashes],
    }


def _landed_notes(published: Publication | None, name: str) -> list[str]:
    """Which tags another clone pushed while the command ran (the state shown was
    read after fetching them), and which share a counter with ours."""
    if published is None or not published.landed:
        return []
    lines = [
        f"Meanwhile another clone pushed {', '.join(published.landed)} to {published.remote}; "
        "fetched now, and the state above includes it."
    ]
    lines += [
        f"warning: {mine} and {theirs} share one counter, so the order of the two events "
        f"is ambiguous (GTO orders them by tag time). Check `tether log {name}`, and "
        "promote again if a stage does not hold what you want."
        for mine, theirs in published.clashes
    ]
    return lines


def _publish_hint(tag: str, pushed_to: str | None) -> list[str]:
    """Without --push the tag exists only here: say how to publish it."""
    if pushed_to is not None:
        return []
    return [
        "The tag is local only. Next: publish it with `tether push` (or pass --push next time)."
    ]


def released_json(done: Released) -> dict[str, Any]:
    return {
        "artifact": done.artifact, "version": done.version, "tag": done.tag, "commit": done.commit,
        "dvc_remote": done.dvc_remote, "uploaded": done.uploaded,
        **_published_json(done.published), "manifest": done.manifest.to_dict(),
    }  # fmt: skip


def released_lines(done: Released) -> list[str]:
    return [
        f"released {done.artifact} {done.version}: created tag {done.tag} at {done.commit[:8]}"
        f"{_pushed(done.published)}",
        f"DVC outputs are in remote {done.dvc_remote!r} ({done.uploaded} file(s) uploaded now). "
        f"Next: `tether promote {done.artifact} {done.version} STAGE`.",
        *([done.remote_note] if done.remote_note else []),
        *_landed_notes(done.published, done.artifact),
        *_publish_hint(done.tag, done.pushed_to),
    ]


def change_json(change: StageChange) -> dict[str, Any]:
    return {
        "artifact": change.artifact, "stage": change.stage, "version": change.version,
        "tag": change.tag, "commit": change.commit, "previous": change.previous,
        "current": change.current, **_published_json(change.published),
    }  # fmt: skip


def change_lines(change: StageChange) -> list[str]:
    """A promote, rollback or unassign: the tag made, and the stage before -> now."""
    return [
        f"created tag {change.tag}{_pushed(change.published)}; "
        f"{change.artifact} #{change.stage}: {change.previous or '(none)'} -> "
        f"{change.current or '(none)'}",
        *_landed_notes(change.published, change.artifact),
        *_publish_hint(change.tag, change.pushed_to),
    ]


def deregistered_json(done: Deregistered) -> dict[str, Any]:
    return {
        "artifact": done.artifact, "version": done.version, "tag": done.tag,
        "commit": done.commit, **_published_json(done.published), "stages": done.stages,
    }  # fmt: skip


def deregistered_lines(done: Deregistered) -> list[str]:
    """The tag made, and what each stage the version held falls back to."""
    lines = [
        f"created tag {done.tag}{_pushed(done.published)}; "
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
    return [
        *lines,
        *_landed_notes(done.published, done.artifact),
        *_publish_hint(done.tag, done.pushed_to),
    ]
