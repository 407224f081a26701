"""``tether run``: compose params.yaml, record the overrides, reproduce the pipeline."""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from tether import numerics
from tether.backends import dvc
from tether.backends.process import SignalGuard, signals_forwarded
from tether.errors import ExternalError, Interrupted, StageFailed, TetherError, UsageError
from tether.pipeline import atomic, preflight
from tether.pipeline.compose import Composition, compose, hydra_settings, validate
from tether.pipeline.lock import workspace_lock
from tether.pipeline.overrides import (
    OVERRIDES_FILE,
    load_overrides,
    overrides_path,
    render_overrides,
)
from tether.pipeline.retyped import Retyped, retyped_params


class StageState(StrEnum):
    START = "start"
    RAN = "ran"
    RESTORED = "restored"  # outputs taken from DVC's run-cache: it ran so before
    SKIPPED = "skipped"


_STATES = {"ran": StageState.RAN, "restored": StageState.RESTORED, "up to date": StageState.SKIPPED}


@dataclass(frozen=True)
class StageEvent:
    """Progress of one stage: it starts, then ran, was restored from DVC's run-cache,
    or was skipped (up to date).

    ``retyped``: params of the stage that changed only their type since dvc.lock
    recorded them; DVC calls them unchanged, so the stage is reproduced forced.
    """

    stage: str
    index: int
    total: int
    state: StageState
    seconds: float = 0.0
    retyped: tuple[Retyped, ...] = ()


@dataclass
class RunResult:
    overrides: list[str]
    params_changed: bool
    stages: list[StageEvent] = field(default_factory=list)
    # The numerics profile the stages ran with, and what this CPU lacked to run the
    # committed one (then they ran with the CPU's own numerics).
    numerics: str = ""
    numerics_lacks: list[str] = field(default_factory=list)

    @property
    def retyped(self) -> list[StageEvent]:
        """The stages reproduced forced because a param changed only its type."""
        return [s for s in self.stages if s.retyped]


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


def _failure_hint(root: Path, overrides: Sequence[str], outputs: list[dvc.TrackedOutput]) -> str:
    """What a failed stage left, and the way back: DVC deletes a stage's outputs
    before running it, so the last good ones are named with the command that
    restores them; a missing input is named with the command that brings it."""
    shown = " ".join(overrides) if overrides else "no overrides"
    back = f"git checkout -- params.yaml {OVERRIDES_FILE}"
    lines = [
        f"params.yaml and {OVERRIDES_FILE} now hold the composition with {shown}. "
        "If an override caused this, fix it and run `tether run OVERRIDE...` again."
    ]
    gone = [o for o in outputs if not (root / o.path).exists()]
    inputs = [o.path for o in gone if o.stage is None]
    if inputs:
        listed = " ".join(inputs)
        lines.append(
            f"Missing input(s): {', '.join(inputs)}: bring them with `dvc pull {listed}` "
            f"(or `dvc checkout {listed}` if the local cache has them)."
        )
    cached = [o.path for o in gone if o.stage is not None and o.cached]
    in_git = [o.path for o in gone if o.stage is not None and not o.cached]
    if cached or in_git:
        restore = [back]
        if in_git:
            restore[0] += " " + " ".join(in_git)
        if cached:
            # --force: a stage may have half-written an output, and a plain
            # checkout refuses to replace a file the cache does not hold
            restore.append(f"dvc checkout --force {' '.join(cached)}")
        lines.append(
            f"Now missing: {', '.join(cached + in_git)}. Back to the last commit, outputs "
            f"included: `{' && '.join(restore)}` (`dvc pull` first if the cache lacks them)."
        )
    else:
        lines.append(f"Back to the committed params: `{back}`.")
    return "\n".join(lines)


def _interrupted_hint() -> str:
    return (
        "Its outputs may be missing or half-written. To go back to the last commit: "
        f"`git checkout -- params.yaml {OVERRIDES_FILE} && dvc checkout --force`; "
        "or run `tether run` again to finish."
    )


def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0]


def _replaced_overrides(
    root: Path, given: Sequence[str], reset: bool, error: UsageError
) -> UsageError:
    """``error``, or, when the overrides given compose only together with recorded
    ones they replaced (`tether run model=random_forest`, then
    `tether run model.params.max_depth=5`), an error that says so and shows the
    command that keeps them."""
    recorded = [] if reset or not given else load_overrides(root)
    keys = {_key(o) for o in given}
    dropped = [o for o in recorded if _key(o) not in keys]
    if not dropped:
        return error
    replaced = (
        f"{error.message}; the overrides given replace the recorded ones "
        f"({' '.join(dropped)}) rather than adding to them"
    )
    try:
        validate(hydra_settings(root), [*dropped, *given])
    except UsageError as together:
        # A typo even with the recorded ones: say it as it reads with them (their
        # keys are the ones the user meant), and how to keep them.
        if together.hint and together.hint.startswith("Did you mean"):
            return UsageError(
                replaced,
                together.hint.split("? ", 1)[0] + "? Keep the recorded ones with "
                f"`tether run {shlex.join(dropped)} OVERRIDE...`.",
            )
        return error
    except TetherError:
        return error  # the recorded ones would not help: the first error stands
    return UsageError(replaced, f"Keep them: `tether run {shlex.join([*dropped, *given])}`.")


def run(
    root: Path,
    overrides: Sequence[str] = (),
    reset: bool = False,
    force: bool = False,
    on_stage: Callable[[StageEvent], None] | None = None,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    checked: bool = False,
) -> RunResult:
    """Compose, record, reproduce. Nothing is written if the composition fails.
    ``checked``: the overrides were validated already (see ``compose``).

    The workspace lock (``tether.pipeline.lock``) is held from before the
    composition to the end, so a second run waits (``wait``) or stops having
    written nothing. Ctrl-C and SIGTERM stop the running stage command too and
    raise ``Interrupted`` naming it.
    """
    with (
        workspace_lock(root, wait=wait, on_wait=on_wait) as killed,
        signals_forwarded() as guard,
    ):
        chosen = choose_overrides(root, overrides, reset)
        try:
            composition = compose(root, chosen, checked=checked)
        except UsageError as exc:
            raise _replaced_overrides(root, overrides, reset, exc) from None
        project = preflight.read_project(root)
        preflight.require_params(root, project, composition.content)
        # An unknown numerics profile is refused before params.yaml is written.
        numerics.profile(numerics.named_in(composition.content.decode("utf-8", "replace")))
        if guard.received is not None:
            raise guard.interrupted(
                f"interrupted by {guard.signal_name} before any stage ran; nothing was written"
            )
        changed = apply(root, composition)
        # Read after params.yaml is written: what the stages will read.
        retyped = [] if force else retyped_params(root, project)
        result = RunResult(overrides=chosen, params_changed=changed)
        running: list[str] = []  # the stage whose command is running, if any
        try:
            guard.call(
                lambda: _reproduce(root, chosen, force, retyped, on_stage, guard, result, running)
            )
        except dvc.DvcLocked as exc:
            if killed is None:
                raise
            raise ExternalError(
                f"{exc.message}: left by `tether run` PID {killed}, which was killed and no "
                "longer runs",
                f"Remove it: `rm -f {' '.join(exc.files) or '.dvc/tmp/lock'}`, then run again.",
            ) from None
        except Interrupted:
            where = f"stage {running[0]!r} was interrupted" if running else "interrupted"
            raise guard.interrupted(
                f"{where} by {guard.signal_name}", _interrupted_hint()
            ) from None
    return result


def _reproduce(
    root: Path,
    chosen: list[str],
    force: bool,
    retyped: list[Retyped],
    on_stage: Callable[[StageEvent], None] | None,
    guard: SignalGuard,
    result: RunResult,
    running: list[str],
) -> None:
    """Reproduce the stages in order, each in turn; stop before the next stage once a
    stop signal arrived. Runs in ``guard``'s worker thread, DVC's Repo with it.

    A stage with ``retyped`` params is reproduced forced (DVC would skip it); the
    stages after it run as DVC decides, so they run when its outputs changed."""
    notify = on_stage or (lambda event: None)
    # DVC resolves some paths against the current directory (saving a stage to its
    # run-cache looks for dvc.yaml there): run from the top of the repository, as
    # `dvc repro` does, whatever directory `tether run -C DIR` was started in.
    # Every stage command runs under the project's numerics profile, also when its
    # code does not apply it itself (tether.numerics.pin).
    wanted = numerics.of_project(root)
    profile, result.numerics_lacks = numerics.usable(wanted)
    result.numerics = wanted.name
    with contextlib.chdir(root), numerics.applied(profile), dvc.open_repo(root) as repo:
        dvc.quiet_git_hints(repo)
        stages = dvc.pipeline_stages(repo)
        for index, stage in enumerate(stages, start=1):
            if guard.received is not None:
                return
            # Named from the repo root, as dvcfiles names it and the user writes it
            # (DVC's ``addressing`` is relative to the current directory:
            # ``../dvc.yaml:train`` from a subdirectory).
            label = dvc.stage_label(repo, stage)
            running.append(label)
            changes = tuple(r for r in retyped if r.stage == label)
            notify(StageEvent(label, index, len(stages), StageState.START, 0.0, changes))
            started = time.perf_counter()
            try:
                done = dvc.reproduce_stage(repo, stage.addressing, force=force or bool(changes))
            except dvc.DvcLocked:
                raise  # nothing ran: the lock's own message says what to do
            except (StageFailed, ExternalError) as exc:
                # The stage's command failed (exit 4), or DVC did (exit 3).
                failed = StageFailed if isinstance(exc, StageFailed) else ExternalError
                hint = _failure_hint(root, chosen, dvc.tracked_outputs(repo))
                raise failed(exc.message, hint) from None
            event = StageEvent(
                label,
                index,
                len(stages),
                _STATES[done],
                time.perf_counter() - started,
                changes,
            )
            running.clear()
            result.stages.append(event)
            notify(event)
