"""Terminal text for ``tether env`` and ``tether verify --env``, as plain lines;
``--json`` is each value's ``to_dict``."""

from __future__ import annotations

from tether.replay.api import PARTIAL_MISSING, EnvReport, ReplayResult
from tether.replay.envs import Pruned


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)


def env_report(report: EnvReport) -> list[str]:
    record = report.record
    head = f"environment of {record.rev} ({record.commit[:8]})"
    lines: list[str] = []
    if record.lock is not None:
        lock = record.lock
        hashed = sum(1 for p in lock.installable if p.hashes)
        lines.append(
            f"{head}: {lock.implementation} {lock.python}, {len(lock.packages)} distributions, "
            f"lock sha256:{lock.sha256[:16]}…"
        )
        lines.append(f"  platform tag: {lock.tag}")
        lines.append(
            f"  archive hashes: {hashed} of {len(lock.installable)}; record digests: "
            f"{sum(1 for p in lock.installable if p.record)}"
        )
        if hashed < len(lock.installable):
            lines.append(
                "  (an archive is hashed only when its wheel or sdist was in a directory "
                "named by UV_FIND_LINKS at release time; the record digests still prove "
                "each distribution's installed files)"
            )
        for package in lock.editables:
            lines.append(f"  editable (not locked by hash): {package.name} {package.version}")
        if not report.diff:
            lines.extend(f"  {p.name}=={p.version}" for p in lock.installable)
    else:
        lines.append(
            f"{head}: partial record (released before tether recorded whole environments): "
            f"Python {record.python}, {len(record.packages)} package versions"
        )
        lines.append("  missing: " + "; ".join(PARTIAL_MISSING))
        if not report.diff:
            lines.extend(
                f"  {name}=={version}" for name, version in sorted(record.packages.items())
            )
    if report.diff:
        lines.extend(env_diff(report))
    return lines


def env_diff(report: EnvReport) -> list[str]:
    if report.same:
        return [
            f"the current environment (Python {report.current_python}) is the recorded one: "
            "same Python, platform, and every distribution at the same version and files"
        ]
    lines = ["differences (recorded -> current):"]
    if report.python:
        lines.append(f"  python: {report.python[0]} -> {report.python[1]}")
    if report.platform:
        lines.append(f"  platform: {report.platform[0]} -> {report.platform[1]}")
    for change in report.packages:
        if change.change == "added":
            lines.append(f"  added    {change.name} {change.current}")
        elif change.change == "removed":
            lines.append(f"  removed  {change.name} {change.recorded}")
        elif change.change == "changed":
            lines.append(f"  changed  {change.name} {change.recorded} -> {change.current}")
        else:
            lines.append(f"  rebuilt  {change.name} {change.recorded} (same version, other files)")
    counts = {
        kind: sum(1 for c in report.packages if c.change == kind)
        for kind in ("added", "removed", "changed", "rebuilt")
    }
    lines.append(
        f"{len(report.packages)} package(s) differ: "
        + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        if report.packages
        else "no package differs"
    )
    return lines


def replay_header(result: ReplayResult) -> list[str]:
    env = result.env
    how = "reused from the cache" if env.reused else "built"
    kind = "partial record" if result.partial else "lock"
    lines = [
        f"environment replayed: {env.interpreter.implementation} {env.interpreter.version}, "
        f"{env.packages} distributions from the release's {kind} "
        f"sha256:{result.lock_sha256[:16]}… ({how} in {env.seconds:.1f}s: {env.path})",
        "  stage commands ran in it; tether, DVC and git ran in the calling environment",
    ]
    if env.damage:
        lines.append(
            "  the cached copy had changed since it was built ("
            + "; ".join(env.damage[:3])
            + (f"; and {len(env.damage) - 3} more" if len(env.damage) > 3 else "")
            + "): it was removed and built again"
        )
    if result.partial:
        lines.append("  NOT an exact replay; missing from the record: " + "; ".join(result.missing))
    if result.editables:
        lines.append(
            "  editable installs not replayed (stages run the checkout's code): "
            + ", ".join(result.editables)
        )
    nr = result.not_replayed
    threads = ", ".join(f"{k}={v}" for k, v in nr["threads"].items() if v is not None)
    lines.append(
        f"  not replayed: OS libraries ({nr['os_libraries']}), the CPU ({nr['cpu']}), "
        f"platform {nr['platform']}, thread counts ({threads or 'none set'})"
    )
    return lines


def pruned(result: Pruned) -> list[str]:
    lines = (
        [
            f"removed {len(result.removed)} replayed environment(s) from {result.root}, "
            f"{_size(result.bytes)} freed"
        ]
        if result.removed
        else [f"no replayed environment to remove in {result.root}"]
    )
    if result.in_use:
        lines.append(
            f"left {len(result.in_use)} in use by a running `tether verify --env` or replay: "
            + ", ".join(result.in_use)
            + " (run `tether env prune` again once it is done)"
        )
    return lines
