"""Renderers of ``tether run`` and ``tether check`` results: plain lines and JSON.

The lines are printed without markup interpretation (``tether.cli.output.out``),
so paths and stage names from the repository print as written.
"""

from __future__ import annotations

import shlex
from typing import Any

from tether.pipeline.check import CheckResult, Problem
from tether.pipeline.run import RunResult, StageEvent


def _retyped(event: StageEvent) -> str:
    """``params changed type (model.params.C 1.0 -> 1)``."""
    return f"params changed type ({', '.join(r.change for r in event.retyped)})"


def stage_line(event: StageEvent) -> str:
    """One progress line of ``tether run``: ``[3/4] train ran in 2.9s``."""
    counter = f"[{event.index}/{event.total}]"
    if event.state == "start":
        if event.retyped:
            return f"{counter} {event.stage} ... (forced: {_retyped(event)})"
        return f"{counter} {event.stage} ..."
    if event.state == "ran":
        return f"{counter} {event.stage} ran in {event.seconds:.1f}s"
    if event.state == "restored":
        return f"{counter} {event.stage} restored from DVC's run-cache in {event.seconds:.1f}s"
    return f"{counter} {event.stage} up to date"


def run_lines(result: RunResult) -> list[str]:
    """What ``tether run`` did: the overrides in force and how many stages ran."""
    shown = " ".join(result.overrides) if result.overrides else "(none)"
    lines = [f"overrides: {shown}"]
    # DVC calls these params unchanged: say why the stage ran all the same.
    lines += [f"{s.stage}: {_retyped(s)}: {s.state}" for s in result.retyped]
    if result.numerics_lacks:
        lines.append(
            f"numerics: this CPU cannot run profile {result.numerics} (it lacks "
            f"{', '.join(result.numerics_lacks)}): the stages ran with its own numerics, "
            "so their outputs belong to this machine; do not commit them as the project's"
        )
    ran = sum(1 for s in result.stages if s.state == "ran")
    restored = sum(1 for s in result.stages if s.state == "restored")
    if ran == 0 and restored == 0 and not result.params_changed:
        lines.append(f"Everything is up to date: no stage of {len(result.stages)} needed to run.")
    else:
        also = f", {restored} restored from DVC's run-cache" if restored else ""
        lines.append(
            f"params.yaml {'updated' if result.params_changed else 'unchanged'}; "
            f"{ran} of {len(result.stages)} stages ran{also}. "
            "Next: `tether check`, then commit what it lists."
        )
    return lines


def check_json(result: CheckResult) -> dict[str, Any]:
    """``tether check --json``."""
    return result.to_dict()


def check_lines(result: CheckResult) -> list[str]:
    """``tether check``: one line when reproducible, else every problem with its fix."""
    if result.reproducible:
        commit = (result.commit or "")[:8] or "(no commit)"
        return [f"reproducible: the workspace matches commit {commit} exactly"]
    return problem_lines(result.problems)


def check_failure(result: CheckResult) -> tuple[str, str]:
    """The error and hint when the workspace is not reproducible."""
    return (
        "the workspace does not reproduce exactly from Git",
        "Apply each fix listed, then run `tether check` again.",
    )


def problem_lines(problems: list[Problem]) -> list[str]:
    """The problems as text: files to commit are gathered into one problem with one
    ``git add`` command; the others are listed each with its own fix."""
    uncommitted = [p for p in problems if p.kind == "uncommitted" and p.subject != "HEAD"]
    environment = [p for p in problems if p.kind == "environment"]
    others = [p for p in problems if p not in uncommitted and p not in environment]
    count = len(others) + (1 if uncommitted else 0) + (1 if environment else 0)
    lines = [f"not reproducible: {count} problem(s)"]
    for problem in others:
        lines += [f"  - {problem.message}", f"    fix: {problem.fix}"]
    if environment:
        lines.append(
            f"  - the running environment differs from the commit's uv.lock "
            f"({len(environment)} difference(s)):"
        )
        lines += [f"      {p.message.removeprefix('environment: ')}" for p in environment]
        fixes = list(dict.fromkeys(p.fix for p in environment))
        lines += [f"    fix: {fix}" for fix in fixes]
    if uncommitted:
        paths = [p.subject for p in uncommitted]
        lines.append(f"  - {len(paths)} file(s) that stages use or write are not committed:")
        lines += [f"      {p.message}" for p in uncommitted]
        lines.append(f"    fix: git add {shlex.join(paths)} && git commit")
    return lines
