"""Trials: the pipeline run with a trial's overrides in a worktree, saved as a DVC
experiment.

The sweep keeps one warm worker per job (``Runner``): a ``tether tune _worker``
process (``serve_trials``) that imports DVC and Hydra once and runs trial after
trial in a git worktree of its own, made once from the baseline commit with
verify's machinery and pointed at the repository's DVC cache (so unchanged stages
are skipped or checked out, not recomputed, and the outputs of each trial land
where ``dvc exp apply`` finds them). The parent hands each trial over as a JSON
line on the worker's stdin and reads its Outcome back from its stdout. For each
trial the worker resets the worktree to the baseline, composes params.yaml with
the composer of ``tether run``, reproduces the pipeline through DVC, reads the
metric and saves the worktree as a DVC experiment (``execute``).

Trials run in processes apart from the sweep's own because the stage commands'
output is redirected on the process's descriptors and a stop signal must reach a
trial's stage commands and nothing else. Running many trials in one process
needs no reset of DVC's or Hydra's state: each trial opens and closes its own
DVC Repo, and Hydra's global state is set up and torn down around each
composition by ``initialize_config_dir`` (tests/tune check that trials run in
one worker give the bytes and metrics that separate runs give).

The experiment is the commit of the trial's worktree on top of the baseline, under
``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``: the layout ``dvc exp show``,
``dvc exp apply`` and ``dvc exp push`` read. It is written with git itself rather
than ``dvc exp save``, which passes every save through shared refs
(``refs/exps/exec/EXEC_BRANCH`` and the workspace stash): two trials saving at once
in two worktrees would race on them, and a killed save would leave them behind.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.backends import dvc
from tether.backends.git import GitRepo
from tether.backends.process import SessionChild
from tether.backends.worktree import remove_stale, remove_tree, temporary_worktree
from tether.errors import Interrupted, TetherError, UsageError
from tether.metrics.api import snapshot
from tether.pipeline.run import run

EXPS_NAMESPACE = "refs/exps"
WORKTREE_PREFIX = "tether-tune-"
LOG_TAIL = 12
# Exit statuses of a process stopped by SIGINT or SIGTERM (signalled, or via a shell).
_STOPPED = (-signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGTERM)


def experiment_ref(baseline: str, name: str) -> str:
    """Where DVC keeps experiment ``name`` of ``baseline``."""
    return f"{EXPS_NAMESPACE}/{baseline[:2]}/{baseline[2:]}/{name}"


@dataclass
class Outcome:
    """What one trial gave: its metrics and experiment, or why it failed."""

    ok: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    experiment: str | None = None  # the experiment's name (last part of its ref)
    commit: str | None = None
    reason: str | None = None
    interrupted: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "metrics": self.metrics,
            "value": self.value,
            "experiment": self.experiment,
            "commit": self.commit,
            "reason": self.reason,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(
            ok=bool(data.get("ok")),
            metrics=dict(data.get("metrics") or {}),
            value=data.get("value"),
            experiment=data.get("experiment"),
            commit=data.get("commit"),
            reason=data.get("reason"),
            seconds=float(data.get("seconds") or 0.0),
        )


# -- the child: one pipeline run in a prepared worktree ------------------------------


def pick_metric(metrics: dict[str, dict[str, Any]], name: str) -> tuple[str, Any]:
    """``(key as shown, value)`` of metric ``name`` (``key`` or ``path:key``)."""
    path, _, key = name.rpartition(":")
    found = [
        (f"{p}:{k}" if path else k, v)
        for p, values in metrics.items()
        for k, v in values.items()
        if k == key and (not path or p == path)
    ]
    if not found:
        known = sorted({k for values in metrics.values() for k in values})
        raise UsageError(
            f"no metric {name!r} in the metrics files",
            f"Name one of: {', '.join(known) or '(none: does a stage declare metrics?)'}.",
        )
    if len(found) > 1:
        raise UsageError(
            f"metric {name!r} is in several files",
            "Name it as PATH:KEY: " + ", ".join(f"{p}:{key}" for p in metrics),
        )
    return found[0]


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (a bool is not), else None:
    what a trial's metric must be for Optuna to compare it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def flat_metrics(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Metrics as one mapping: ``key``, or ``path:key`` where two files share a key."""
    counts: dict[str, int] = {}
    for values in metrics.values():
        for key in values:
            counts[key] = counts.get(key, 0) + 1
    return {
        (key if counts[key] == 1 else f"{path}:{key}"): value
        for path, values in metrics.items()
        for key, value in values.items()
    }


def execute(
    worktree: Path, overrides: Sequence[str], metric: str, ref: str, message: str
) -> Outcome:
    """Run the pipeline with ``overrides`` in ``worktree`` and save it as ``ref``.

    A failing stage, or a metric that is missing or not a finite number, gives a
    failed Outcome with the reason; no experiment is saved for it.
    """

    started = time.perf_counter()
    try:
        # The sweep validated every trial's overrides before it started.
        run(worktree, overrides, checked=True)
    except Interrupted:
        raise  # the trial was stopped, not failed: it runs again on resume
    except TetherError as exc:
        return Outcome(False, reason=exc.message, seconds=time.perf_counter() - started)
    snap = snapshot(worktree, None)
    metrics = flat_metrics(snap.metrics)
    try:
        _, value = pick_metric(snap.metrics, metric)
    except UsageError as exc:
        return Outcome(False, metrics, reason=exc.message, seconds=time.perf_counter() - started)
    number = finite_number(value)
    if number is None:
        return Outcome(
            False,
            metrics,
            reason=f"metric {metric} is {value!r}, not a finite number",
            seconds=time.perf_counter() - started,
        )
    git = GitRepo(worktree)
    commit = git.commit_worktree(message)
    git.create_ref(ref, commit)
    return Outcome(
        True,
        metrics,
        number,
        experiment=ref.rsplit("/", 1)[1],
        commit=commit,
        seconds=time.perf_counter() - started,
    )


# -- the worker: many trials, one after another, in one worktree ----------------------


def serve_trials(worktree: Path, baseline: str, metric: str, log: Path) -> None:
    """The warm worker behind ``tether tune _worker``: reads trial specs (JSON lines)
    on stdin, runs each in ``worktree`` and answers each with its Outcome (a JSON
    line) on stdout, until stdin ends.

    The worktree is reset to ``baseline`` (``_reset``) before the first trial and
    after each one, once its Outcome is sent (the sweep records it meanwhile): what
    a fresh checkout would hold, with the DVC outputs that already match dvc.lock
    left in place, so that DVC skips the stages whose deps did not change.

    What the stage commands and DVC print goes to ``log``, rewritten for each
    trial; the specs and outcomes travel on descriptors the stage commands do not
    inherit (their stdin is /dev/null). Ctrl-C or SIGTERM in the middle of a trial
    raises ``Interrupted`` (the process exits 130 or 143: the parent records the
    trial as interrupted); the worker also stops itself that way when its parent
    dies (``_exit_with_parent``), so no trial outlives the sweep that asked for it.
    """
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")  # os.dup: not inherited
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _output_to(log)  # from now on nothing printed can reach the answers' pipe
    _exit_with_parent()
    dvc.preload()  # while the parent sets the study up
    git = GitRepo(worktree)
    # Every reset goes back to the same baseline: its outputs are listed once.
    with dvc.open_repo(worktree) as repo:
        outputs = [o.path for o in dvc.tracked_outputs(repo)]
    _reset(git, worktree, baseline, outputs)
    while line := requests.readline():
        spec = TrialSpec.from_dict(json.loads(line))
        _output_to(log)
        outcome = execute(worktree, spec.overrides, metric, spec.ref, spec.message)
        answers.write(json.dumps(outcome.to_dict(), allow_nan=True) + "\n")
        answers.flush()
        _reset(git, worktree, baseline, outputs)
    # Every trial is saved and answered: skip the interpreter's teardown of DVC,
    # Hydra and the rest (0.15 s or so that the sweep would wait for).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _reset(git: GitRepo, worktree: Path, baseline: str, outputs: Sequence[str]) -> None:
    """Bring the worktree back to ``baseline`` as a fresh checkout of it would be,
    without touching what already is: tracked files by git; untracked files that
    are not DVC outputs (``outputs``: the baseline's) removed, DVC's own ``.dvc/``
    files kept; each output checked out from the cache where it differs from
    dvc.lock (DVC compares hashes it keeps for the worktree, so unchanged outputs
    cost nothing)."""
    git.reset_worktree(baseline)
    for entry in git.ignored_paths():
        path = entry.rstrip("/")
        if path == ".dvc" or path.startswith(".dvc/"):
            continue
        if any(path == o or o.startswith(path + "/") or path.startswith(o + "/") for o in outputs):
            continue
        target = worktree / path
        if target.is_dir() and not target.is_symlink():
            remove_tree(target)
        else:
            target.unlink(missing_ok=True)
    with dvc.open_repo(worktree) as repo:
        dvc.restore_outputs(repo)


def _output_to(log: Path) -> None:
    """Point descriptors 1 and 2 (ours, and so the stage commands') at ``log``, emptied."""
    sys.stdout.flush()
    sys.stderr.flush()
    sink = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    os.close(sink)


def _exit_with_parent() -> None:
    """SIGTERM ourselves once the parent is gone (killed with SIGKILL, which it
    cannot pass on): a running trial is then interrupted, not finished unasked."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="tether-parent-watch", daemon=True).start()


# -- the parent: warm workers, each with a worktree of its own ----------------------

# git registers worktrees in files it writes under .git/worktrees: one at a time.
_worktree_lock = threading.Lock()


@dataclass(frozen=True)
class TrialSpec:
    number: int
    overrides: list[str]
    ref: str  # the experiment ref to save it under
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "overrides": self.overrides,
            "ref": self.ref,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialSpec:
        return cls(int(data["number"]), list(data["overrides"]), data["ref"], data["message"])


class _Worker:
    """One ``tether tune _worker`` process and the worktree it runs trials in.

    The process imports DVC, Hydra and the rest once and runs trial after trial
    (``serve_trials``); the worktree is made once, from the baseline, with the
    repository's DVC cache shared. Both go away with ``close``; a worker whose
    process died is closed and replaced by a fresh one for the next trial.
    """

    def __init__(self, runner: Runner) -> None:
        self._stack = ExitStack()
        try:
            tree = self._stack.enter_context(
                temporary_worktree(runner.git, runner.baseline, prefix=WORKTREE_PREFIX)
            )
            dvc.share_cache(tree, runner.cache, tree.parent / "site-cache")
            self.log = tree.parent / "trial.log"
            args = [
                sys.executable,
                "-m",
                "tether",
                "tune",
                "_worker",
                "--baseline",
                runner.baseline,
                "--metric",
                runner.metric,
                "--log",
                str(self.log),
            ]
            # A session of its own: Ctrl-C reaches tether, which stops the trial
            # itself, so a half-run trial is always recorded as interrupted.
            self.child = SessionChild(args, tree, tree.parent / "worker.log")
        except BaseException:
            self._stack.close()
            raise
        self.tree = tree

    @property
    def alive(self) -> bool:
        return self.child.alive

    def run(self, spec: TrialSpec, cancelled: threading.Event) -> Outcome:
        """Hand ``spec`` to the process and wait for its outcome."""
        answer = self.child.ask(json.dumps(spec.to_dict()).encode())
        if answer:
            return Outcome.from_dict(json.loads(answer))
        code = self.child.wait()
        # SIGTERM's handler stops child processes before the sweep hears of it.
        if cancelled.is_set() or code in _STOPPED:
            return Outcome(False, reason="interrupted", interrupted=True)
        tail = self._tail()
        return Outcome(False, reason=f"the trial process exited with {code}: " + " | ".join(tail))

    def _tail(self) -> list[str]:
        lines: list[str] = []
        for log in (self.tree.parent / "worker.log", self.log):
            if log.exists():
                lines += log.read_text(encoding="utf-8", errors="replace").splitlines()
        return lines[-LOG_TAIL:]

    def signal(self, sig: int) -> None:
        self.child.signal(sig)

    def stop(self) -> None:
        """Tell the process to end (its stdin closed: it exits between trials)."""
        self.child.close_stdin()

    def close(self) -> None:
        """End the process and remove the worktree."""
        try:
            self.child.close(timeout=30)
        finally:
            self._stack.close()


class Runner:
    """Runs trials on warm workers; ``cancel`` stops every running one, ``close``
    ends the workers and removes their worktrees."""

    def __init__(self, root: Path, baseline: str, metric: str) -> None:
        self.root = root
        self.git = GitRepo(root)
        self.baseline = baseline
        self.metric = metric
        self.cache = dvc.cache_dir(root).resolve()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop every running trial's process group (their worktrees go with ``close``)."""
        self.cancelled.set()
        with self._lock:
            workers = list(self._busy) + list(self._idle)
        for worker in workers:
            worker.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for worker in workers:
            worker.child.wait_or_kill(max(0.1, deadline - time.monotonic()))

    def start(self, count: int) -> None:
        """Start ``count`` workers ahead of the first trial (they import while the
        sweep sets up). Each is made in a thread, as the trials' workers are: a
        worktree made in the main thread would arm signal handlers there, to be
        restored by whichever thread removes it."""
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="tether-start") as pool:
            for future in [pool.submit(self._add_idle) for _ in range(count)]:
                future.result()

    def _add_idle(self) -> None:
        with _worktree_lock:
            worker = _Worker(self)
        with self._lock:  # registered at once: ``close`` ends it whatever happens next
            self._idle.append(worker)

    def close(self) -> None:
        with self._lock:
            workers = list(self._busy) + list(self._idle)
            self._busy.clear()
            self._idle.clear()
        for worker in workers:
            worker.stop()  # all at once: they end together
        for worker in workers:
            worker.close()

    def run(self, spec: TrialSpec) -> Outcome:
        """Run one trial; always returns (a failure is an Outcome, not an exception)."""
        started = time.perf_counter()
        saved = self.saved(spec)
        if saved is not None:
            return saved
        try:
            worker = self._take()
        except TetherError as exc:
            return Outcome(False, reason=exc.message, seconds=time.perf_counter() - started)
        if worker is None:
            return Outcome(False, reason="interrupted", interrupted=True)
        outcome = worker.run(spec, self.cancelled)
        self._give_back(worker)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _take(self) -> _Worker | None:
        with self._lock:
            if self.cancelled.is_set():
                return None
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    self._busy.add(worker)
                    return worker
                worker.close()
        with _worktree_lock:
            if self.cancelled.is_set():
                return None
            worker = _Worker(self)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if worker.alive and not self.cancelled.is_set():
                self._idle.append(worker)
                return
            if self.cancelled.is_set():
                self._idle.append(worker)  # closed with the others by ``close``
                return
        worker.close()  # died in the middle of a trial: the next gets a fresh one

    def saved(self, spec: TrialSpec) -> Outcome | None:
        """The outcome of a trial whose experiment was saved by a worker killed
        before it could record it: read back from the experiment, not run again."""
        commit = self.git.refs_under(spec.ref).get(spec.ref)
        if commit is None:
            return None
        snap = snapshot(self.root, commit)
        try:
            _, value = pick_metric(snap.metrics, self.metric)
        except UsageError:
            return None
        number = finite_number(value)
        if number is None:
            return None
        return Outcome(
            True,
            flat_metrics(snap.metrics),
            number,
            experiment=spec.ref.rsplit("/", 1)[1],
            commit=commit,
        )


def reap_abandoned(git: GitRepo) -> int:
    """Remove the trial worktrees of tune processes that no longer run (killed
    with SIGKILL, which no cleanup survives); returns how many were removed."""
    return len(remove_stale(git, WORKTREE_PREFIX))
