"""``tether run``: compose params.yaml, record the overrides, reproduce the pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from tether.backends import dvc
from tether.errors import ExternalError
from tether.pipeline import atomic
from tether.pipeline.compose import Composition, compose
from tether.pipeline.overrides import (
    OVERRIDES_FILE,
    load_overrides,
    overrides_path,
    render_overrides,
)


class StageState(StrEnum):
    START = "start"
    RAN = "ran"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StageEvent:
    """Progress of one stage: it starts, then ran or was skipped (up to date)."""

    stage: str
    index: int
    total: int
    state: StageState
    seconds: float = 0.0


@dataclass
class RunResult:
    overrides: list[str]
    params_changed: bool
    stages: list[StageEvent] = field(default_factory=list)


def choose_overrides(root: Path, given: Sequence[str], reset: bool) -> list[str]:
    """The overrides given now; else none after ``--reset``; else the recorded ones."""
    if given:
        return list(given)
    if reset:
        return []
    return load_overrides(root)


def apply(root: Path, composition: Composition) -> bool:
    """Write params.yaml and the overrides file.

    Both are written in full to temporary files before either is moved into place,
    so a failure while writing leaves both untouched.

    Returns whether params.yaml changed.
    """
    params = root / dvc.PARAMS_FILE
    before = params.read_bytes() if params.exists() else None
    record = overrides_path(root)
    temps = []
    try:
        temps.append((atomic.temp_path_beside(params), params, composition.content))
        temps.append(
            (atomic.temp_path_beside(record), record, render_overrides(list(composition.overrides)))
        )
        for temp, _, data in temps:
            temp.write_bytes(data)
        for temp, target, _ in temps:
            atomic.replace(temp, target)
    finally:
        for temp, _, _ in temps:
            temp.unlink(missing_ok=True)
    return before != composition.content


def _failure_hint(overrides: Sequence[str]) -> str:
    shown = " ".join(overrides) if overrides else "no overrides"
    return (
        f"params.yaml and {OVERRIDES_FILE} now hold the composition with {shown}. "
        "If an override caused this, fix it and run `tether run OVERRIDE...` again, or "
        f"go back to the committed ones with `git checkout -- params.yaml {OVERRIDES_FILE}`."
    )


def run(
    root: Path,
    overrides: Sequence[str] = (),
    reset: bool = False,
    force: bool = False,
    on_stage: Callable[[StageEvent], None] | None = None,
) -> RunResult:
    """Compose, record, reproduce. Nothing is written if the composition fails."""
    chosen = choose_overrides(root, overrides, reset)
    composition = compose(root, chosen)
    changed = apply(root, composition)
    result = RunResult(overrides=chosen, params_changed=changed)
    notify = on_stage or (lambda event: None)
    with dvc.open_repo(root) as repo:
        dvc.quiet_git_hints(repo)
        stages = dvc.pipeline_stages(repo)
        for index, stage in enumerate(stages, start=1):
            notify(StageEvent(stage.addressing, index, len(stages), StageState.START))
            started = time.perf_counter()
            try:
                ran = dvc.reproduce_stage(repo, stage.addressing, force=force)
            except ExternalError as exc:
                raise ExternalError(exc.message, _failure_hint(chosen)) from None
            event = StageEvent(
                stage.addressing,
                index,
                len(stages),
                StageState.RAN if ran else StageState.SKIPPED,
                time.perf_counter() - started,
            )
            result.stages.append(event)
            notify(event)
    return result
