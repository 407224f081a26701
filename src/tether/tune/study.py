"""The search: Optuna's ask-and-tell drives trials that DVC runs and records.

Optuna keeps the study (the trials, their parameters, values and states) in its
RDB storage: an SQLite file in ``.tether/tune.db`` by default, or any database
URL (``postgresql://...``), where several machines each run ``tether tune --study
NAME`` as workers of one study. Nothing is scheduled by tether itself:

- Grid points are enqueued once, as WAITING trials, by the worker that creates the
  study; the storage hands each to exactly one worker (WAITING -> RUNNING is one
  atomic update). Optuna's own GridSampler may hand a point to two workers at once
  (its documentation says so), which would run a trial twice.
- Every running trial sends a heartbeat; a worker that is killed stops sending it,
  and ``fail_stale_trials`` (called by the next worker) marks its trials failed and
  enqueues them again (``RetryHeartbeatStaleTrialCallback``). A trial interrupted
  by Ctrl-C is enqueued again the same way. So the same command, run again,
  resumes the sweep and runs no finished trial twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether import dvcfiles
from tether.backends import dvc
from tether.backends.git import GitRepo
from tether.backends.hashing import output_md5
from tether.backends.process import SignalGuard, signals_forwarded, sigterm_as_interrupt
from tether.errors import ExternalError, UsageError
from tether.metrics.api import snapshot
from tether.pipeline.compose import hydra_settings, validate
from tether.pipeline.overrides import OVERRIDES_FILE, parse_overrides
from tether.tune import space as space_mod
from tether.tune.board import Leaderboard, Row, find_trial, leaderboard
from tether.tune.storage import ATTR, HEARTBEAT_SECONDS, load_optuna, open_storage
from tether.tune.trial import (
    Outcome,
    Runner,
    TrialSpec,
    experiment_ref,
    finite_number,
    flat_metrics,
    pick_metric,
    reap_abandoned,
)

# A running trial nobody claimed for this long was left by a killed worker (the
# margin covers clocks that differ between the machines of a distributed study).
ORPHAN_SECONDS = 30
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Options:
    sweep: tuple[str, ...]
    sampler: str = "grid"
    trials: int | None = None
    jobs: int = 1
    metric: str | None = None
    minimize: bool = False
    seed: int = 0
    study: str | None = None
    storage: str | None = None


@dataclass(frozen=True)
class Progress:
    """What the sweep is doing, after each trial starts or ends."""

    event: str  # "start", "complete", "failed", "interrupted"
    number: int
    done: int
    running: int
    failed: int
    total: int | None
    best: float | None
    reason: str | None = None


@dataclass
class SweepResult:
    board: Leaderboard
    ran: int  # trials this command ran to completion
    failed: int  # trials this command recorded as failed
    earlier: int  # trials finished before this command started


# -- starting or resuming a study ----------------------------------------------------


def default_study_name(options: Options) -> str:
    key = json.dumps(
        [list(options.sweep), options.sampler, options.metric, options.minimize, options.seed]
    )
    return "tune-" + hashlib.sha256(key.encode()).hexdigest()[:6]


@dataclass(frozen=True)
class _Baseline:
    """The commit the trials start from, as the leaderboard shows it beside them."""

    commit: str
    metric: str
    value: float | None  # the metric at the commit (None: no metrics there yet)
    metrics: dict[str, Any]
    overrides: list[str]  # recorded in .tether/overrides.yaml at the commit


def _settings(options: Options, base: _Baseline, target: int | None) -> dict[str, Any]:
    return {
        "sweep": list(options.sweep),
        "sampler": options.sampler,
        "metric": base.metric,
        "minimize": options.minimize,
        "seed": options.seed,
        "baseline": base.commit,
        "trials": target,
        # Shown as the leaderboard's first row; not compared when a study resumes.
        "baseline_value": base.value,
        "baseline_metrics": base.metrics,
        "baseline_overrides": base.overrides,
    }


def _sampler(name: str, seed: int) -> Any:
    optuna = load_optuna()
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    # grid: every point is an enqueued trial, so the sampler is never asked.
    return optuna.samplers.RandomSampler(seed=seed)


def _read_baseline(git: GitRepo, metric: str | None, commit: str) -> _Baseline:
    """The baseline's metrics and recorded overrides; UsageError when ``metric`` is
    not named, or is not among metrics the commit has."""
    snap = snapshot(git.root, commit)
    if metric is None:
        known = sorted({k for values in snap.metrics.values() for k in values})
        raise UsageError(
            "name the metric to optimise with --metric NAME",
            f"The metrics at HEAD are: {', '.join(known) or '(none)'}.",
        )
    value = finite_number(pick_metric(snap.metrics, metric)[1]) if snap.metrics else None
    recorded = git.read_blob(commit, OVERRIDES_FILE.as_posix())
    return _Baseline(
        commit,
        metric,
        value,
        flat_metrics(snap.metrics),
        parse_overrides(recorded) if recorded is not None else [],
    )


def _validate(root: Path, space: space_mod.Space) -> None:
    """Every trial's overrides as ``tether run`` checks them, before anything runs."""
    settings = hydra_settings(root)
    for overrides in space.probes():
        try:
            validate(settings, overrides)
        except UsageError as exc:
            raise UsageError(
                f"{exc.message} (in the trial {' '.join(overrides)})", exc.hint
            ) from None


def _get_study(
    optuna: Any, storage: Any, name: str, settings: dict[str, Any], space: space_mod.Space
) -> Any:
    """Create the study (and enqueue the grid), or load it and check it is the same."""
    sampler = _sampler(settings["sampler"], settings["seed"])
    direction = "minimize" if settings["minimize"] else "maximize"
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, sampler=sampler, direction=direction
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        _wait_ready(study, name)
        _same(study, name, settings)
        return study
    if settings["sampler"] == "grid":
        for point in space.grid():
            study.enqueue_trial(point)
    study.set_user_attr(ATTR, {**settings, "ready": True})
    return study


def _wait_ready(study: Any, name: str) -> None:
    """Another worker created the study a moment ago: wait for its grid."""
    deadline = time.monotonic() + 60
    while not (study.user_attrs.get(ATTR) or {}).get("ready"):
        if time.monotonic() > deadline:
            raise ExternalError(
                f"study {name!r} exists but its worker never finished setting it up",
                "Start a new study with --study OTHER_NAME.",
            )
        time.sleep(0.2)


def _same(study: Any, name: str, settings: dict[str, Any]) -> None:
    stored = study.user_attrs.get(ATTR) or {}
    for key in ("sweep", "sampler", "metric", "minimize", "seed", "baseline", "trials"):
        if stored.get(key) != settings[key]:
            what = "commit" if key == "baseline" else key
            raise UsageError(
                f"study {name!r} was started with another {what}: {stored.get(key)!r}, "
                f"not {settings[key]!r}",
                "Run the same command to resume it (at the same commit), or start another "
                "study with --study NEW_NAME.",
            )


# -- the sweep -------------------------------------------------------------------------


def tune(
    root: Path, options: Options, on_progress: Callable[[Progress], None] | None = None
) -> SweepResult:
    """Run (or resume) a sweep; returns the leaderboard after it.

    Raises UsageError for a bad sweep before anything is written, and
    KeyboardInterrupt after a Ctrl-C or SIGTERM once every running trial was
    stopped, recorded as interrupted and its worktree removed.
    """
    space, target, name = _checked(options)
    git = GitRepo(root)
    baseline = git.head()
    if baseline is None:
        raise UsageError("the repository has no commit yet", "Commit the project first.")
    base = _read_baseline(git, options.metric, baseline)

    runner = Runner(root, baseline, base.metric)
    with sigterm_as_interrupt():
        try:
            # The workers start first: their imports overlap the checks of every
            # trial's overrides and Optuna's set-up. A bad sweep stops them at once
            # and removes their worktrees; nothing is written before the checks pass.
            runner.start(min(options.jobs, target or options.jobs))
            try:
                _validate(root, space)
            except BaseException:
                runner.cancel()
                raise
            optuna = load_optuna()
            storage = open_storage(root, options.storage, create=True)
            settings = _settings(options, base, target)
            study = _get_study(optuna, storage, name, settings, space)
            optuna.storages.fail_stale_trials(study)
            reap_abandoned(git)
            earlier = _finished(study)
            sweep = _Sweep(optuna, study, storage, space, options, runner, target, on_progress)
            sweep.loop()
        finally:
            runner.close()
    board = leaderboard(root, name, options.storage, study=study)
    return SweepResult(board, sweep.ran, sweep.failed, earlier)


def _checked(options: Options) -> tuple[space_mod.Space, int | None, str]:
    """The parsed sweep, how many trials it runs (None: until stopped) and the
    study's name; UsageError for a bad sweep, before anything is started."""
    if options.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    if options.trials is not None and options.trials < 1:
        raise UsageError("--trials must be 1 or more")
    space = space_mod.parse(options.sweep, options.sampler)
    if options.sampler == "grid":
        target: int | None = len(space.grid())
        if options.trials is not None and options.trials != target:
            raise UsageError(
                f"the grid has {target} points; --trials does not apply to it",
                "Leave out --trials, or search with --sampler random or tpe.",
            )
    else:
        if options.trials is None:
            raise UsageError(
                f"--sampler {options.sampler} needs --trials N", "Say how many trials to run."
            )
        target = options.trials
    name = options.study or default_study_name(options)
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid study name {name!r}",
            "Use letters, digits, '.', '_' and '-' (it names the experiments, NAME-N).",
        )
    return space, target, name


def _finished(study: Any) -> int:
    """Trials an earlier run of the study finished: completed, or failed for a
    reason of their own (not one requeued after an interruption)."""
    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.state.name == "COMPLETE"
        or (
            t.state.name == "FAIL"
            and t.user_attrs.get("reason")
            and not t.user_attrs.get("requeued")
        )
    )


class _Sweep:
    def __init__(
        self,
        optuna: Any,
        study: Any,
        storage: Any,
        space: space_mod.Space,
        options: Options,
        runner: Runner,
        target: int | None,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.optuna = optuna
        self.study = study
        # The RDBStorage tether opened (``open_storage``): trial states, system
        # attributes and heartbeats are read and written through its public
        # methods, which take trial ids (the storage's), not trial numbers.
        self.storage = storage
        self.study_id = storage.get_study_id_from_name(study.study_name)
        self._ids: dict[int, int] = {}
        self.space = space
        self.options = options
        self.runner = runner
        self.target = target
        self.notify = on_progress or (lambda p: None)
        self.distributions = (
            {
                d.name: optuna.distributions.CategoricalDistribution(list(d.grid or ()))
                for d in space.dimensions
            }
            if options.sampler == "grid"
            else space.distributions()
        )
        self.running: dict[Future[Outcome], Any] = {}
        self.ran = 0
        self.failed = 0
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def _id(self, number: int) -> int:
        """The storage's id of trial ``number`` of this study."""
        if number not in self._ids:
            self._ids[number] = self.storage.get_trial_id_from_study_id_trial_number(
                self.study_id, number
            )
        return self._ids[number]

    # what is left to do

    def _states(self) -> list[Any]:
        return self.study.get_trials(deepcopy=False)

    def _counts(self, trial: Any) -> bool:
        """Whether ``trial`` takes one of the target's places (an interrupted one
        was enqueued again, and its copy takes the place)."""
        states = self.optuna.trial.TrialState
        if trial.state == states.FAIL:
            attrs = trial.user_attrs
            return bool(attrs.get("reason")) and not (
                attrs.get("requeued") or attrs.get("discarded")
            )
        return trial.state in (states.COMPLETE, states.RUNNING, states.WAITING)

    def _next(self) -> Any | None:
        states = self.optuna.trial.TrialState
        trials = self._states()
        waiting = any(t.state == states.WAITING for t in trials)
        if self.options.sampler == "grid":
            if not waiting:
                return None
        elif not waiting and sum(1 for t in trials if self._counts(t)) >= (self.target or 0):
            return None
        trial = self.study.ask(self.distributions)
        # An enqueued trial is the one whose system attributes hold "fixed_params",
        # the key Optuna's enqueue_trial writes (optuna/study/study.py) and its
        # samplers read: no public call tells an enqueued trial from a sampled one.
        fixed = self.storage.get_trial_system_attrs(self._id(trial.number))
        if self.options.sampler == "grid" and "fixed_params" not in fixed:
            # Another worker took the last waiting point between the look and the ask.
            trial.set_user_attr("reason", "not a grid point (another worker took it)")
            trial.set_user_attr("discarded", True)
            self.study.tell(trial, state=states.FAIL)
            return None
        return trial

    def _others_running(self) -> bool:
        ours = {t.number for t in self.running.values()}
        states = self.optuna.trial.TrialState
        others = [t for t in self._states() if t.state == states.RUNNING and t.number not in ours]
        self._reap_orphans(others)
        return bool(others)

    def _reap_orphans(self, others: list[Any]) -> None:
        """Fail and enqueue again a running trial that no worker ever claimed (no
        ``worker`` attribute: its worker was killed between the ask and the first
        heartbeat), as Optuna does with a stale one."""
        import datetime

        now = datetime.datetime.now()
        storage = self.storage
        retry = self.optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
        for trial in others:
            started = trial.datetime_start or now
            if "worker" in trial.user_attrs or (now - started).total_seconds() < ORPHAN_SECONDS:
                continue
            trial_id = self._id(trial.number)
            if storage.set_trial_state_values(trial_id, state=self.optuna.trial.TrialState.FAIL):
                retry(self.study, storage.get_trial(trial_id))

    # the loop

    def loop(self) -> None:
        """Run trials until the target is met. A stop signal is only noted while
        inside and acted on between storage calls, never in the middle of one."""
        pool = ThreadPoolExecutor(max_workers=self.options.jobs, thread_name_prefix="tether-trial")
        try:
            with signals_forwarded(forward=False) as guard:
                self._run(pool, guard)
                if guard.received is not None:
                    self.runner.cancel()
                    for future, trial in list(self.running.items()):
                        self._finish(trial, future.result())
                    self.running.clear()
                    raise KeyboardInterrupt
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.runner.close()

    def _run(self, pool: ThreadPoolExecutor, guard: SignalGuard) -> None:
        while guard.received is None:
            while len(self.running) < self.options.jobs and not self.runner.cancelled.is_set():
                trial = self._next()
                if trial is None:
                    break
                self._start(pool, trial)
            if not self.running:
                if self._others_running():
                    # Another worker's trials: wait for them to end, or to go
                    # stale (then they are enqueued again, for us to run).
                    time.sleep(HEARTBEAT_SECONDS)
                    self.optuna.storages.fail_stale_trials(self.study)
                    continue
                return
            done, _ = wait(self.running, timeout=HEARTBEAT_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                self._finish(self.running.pop(future), future.result())
            self._heartbeat()

    def _heartbeat(self) -> None:
        for trial in self.running.values():
            self._heartbeat_one(trial)

    def _start(self, pool: ThreadPoolExecutor, trial: Any) -> None:
        # The first heartbeat right after the ask: a trial without one is never
        # found stale by Optuna (see _reap_orphans for a kill in between).
        self._heartbeat_one(trial)
        params = {d.name: trial.params[d.name] for d in self.space.dimensions}
        overrides = self.space.overrides(params)
        # A trial enqueued again after an interruption keeps its experiment's name,
        # so an experiment saved just before a kill is found and not run again.
        experiment = trial.user_attrs.get("experiment") or f"{self.study.study_name}-{trial.number}"
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("experiment", experiment)
        trial.set_user_attr("worker", self.worker)
        spec = TrialSpec(
            trial.number,
            overrides,
            experiment_ref(self.runner.baseline, experiment),
            f"tether tune: trial {trial.number} of study {self.study.study_name}\n\n"
            + "\n".join(overrides),
        )
        self.running[pool.submit(self.runner.run, spec)] = trial
        self._emit("start", trial.number)

    def _heartbeat_one(self, trial: Any) -> None:
        self.storage.record_heartbeat(self._id(trial.number))

    def _finish(self, trial: Any, outcome: Outcome) -> None:
        states = self.optuna.trial.TrialState
        trial.set_user_attr("seconds", round(outcome.seconds, 3))
        if outcome.metrics:
            trial.set_user_attr("metrics", outcome.metrics)
        if outcome.ok:
            trial.set_user_attr("commit", outcome.commit)
            self.study.tell(trial, outcome.value)
            self.ran += 1
            self._emit("complete", trial.number)
            return
        if outcome.interrupted:
            trial.set_user_attr("reason", "interrupted")
            trial.set_user_attr("requeued", True)
            self.study.tell(trial, state=states.FAIL)
            self.study.enqueue_trial(
                dict(trial.params),
                user_attrs={"retry_of": trial.number, "experiment": trial.user_attrs["experiment"]},
            )
            self._emit("interrupted", trial.number)
            return
        trial.set_user_attr("reason", outcome.reason or "failed")
        self.study.tell(trial, state=states.FAIL)
        self.failed += 1
        self._emit("failed", trial.number, outcome.reason)

    def _emit(self, event: str, number: int, reason: str | None = None) -> None:
        states = self.optuna.trial.TrialState
        trials = self._states()
        complete = [t for t in trials if t.state == states.COMPLETE]
        failed = [
            t
            for t in trials
            if t.state == states.FAIL and self._counts(t) and not t.user_attrs.get("discarded")
        ]
        values = [t.value for t in complete if t.value is not None]
        best = (min if self.options.minimize else max)(values) if values else None
        self.notify(
            Progress(
                event,
                number,
                len(complete),
                len(self.running),
                len(failed),
                self.target,
                best,
                reason,
            )
        )


def apply(
    root: Path, which: str, name: str | None = None, storage: str | None = None
) -> tuple[Leaderboard, Row]:
    """Put trial ``which`` in the work tree: its overrides, params.yaml, dvc.lock and
    metrics from its experiment commit, its outputs from the DVC cache (nothing runs).
    Returns the study's leaderboard and the trial's row."""
    board = leaderboard(root, name, storage)
    row = find_trial(board, which)
    assert row.experiment is not None
    ref = experiment_ref(board.baseline, row.experiment)
    commit = GitRepo(root).refs_under(ref).get(ref)
    if commit is None:
        raise ExternalError(
            f"experiment {row.experiment} is not in this repository (it ran on another machine)",
            f"There, run `dvc exp push origin {row.experiment}`; here, "
            f"`dvc exp pull origin {row.experiment}`; then apply again.",
        )
    _refuse_to_overwrite(GitRepo(root), commit, row.experiment)
    dvc.apply_experiment(root, commit)
    return board, row


def _refuse_to_overwrite(git: GitRepo, commit: str, experiment: str) -> None:
    """UsageError when applying ``commit`` would overwrite uncommitted work: DVC 3's
    ``exp apply`` always forces (its ``--no-force`` is gone), so a params.yaml edited
    since the last commit, or a model file edited by hand since dvc.lock recorded it,
    would be replaced without a word."""
    written = git.paths_between("HEAD", commit)
    dirty = sorted({path for _, path in git.changed_paths(written)}) if written else []
    dirty += _edited_outputs(git, commit)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise UsageError(
            f"applying {experiment} would overwrite uncommitted changes to {shown}; "
            "nothing was changed",
            "Commit them (`git commit`) or set them aside (`git stash`), then apply again.",
        )


def _edited_outputs(git: GitRepo, commit: str) -> list[str]:
    """The cached outputs (git-ignored, so not in git's status) that the trial
    changes and whose bytes in the work tree are no longer what HEAD's dvc.lock
    recorded: ``exp apply`` would check the trial's out over them."""
    head = git.head()
    if head is None:
        return []
    trial = {o.path: o.md5 for stage in dvcfiles.read(git.root, commit).stages for o in stage.outs}
    changing = [
        out
        for stage in dvcfiles.read(git.root, head).stages
        for out in stage.outs
        if out.cache and out.md5 is not None and trial.get(out.path) != out.md5
    ]
    if not changing:
        return []
    with dvc.open_repo(git.root) as repo:  # a directory's hash leaves out .dvcignore's
        ignored = dvc.ignore_checker(repo)
        edited = []
        for out in changing:
            here = output_md5(git.root / out.path, ignored, out.legacy)
            if here is not None and here != out.md5:
                edited.append(out.path)
    return sorted(edited)


def experiment_names(git: GitRepo) -> dict[str, str]:
    """``{experiment name: commit}`` for every experiment ref in the repository."""
    found = {}
    for ref, sha in git.refs_under("refs/exps/").items():
        parts = ref.split("/")
        if len(parts) == 5:
            found[parts[-1]] = sha
    return found


__all__: Sequence[str] = ["Options", "apply", "leaderboard", "tune"]
