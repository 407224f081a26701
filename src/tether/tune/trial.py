"""One trial: the pipeline run with a trial's overrides in a worktree of its own,
saved as a DVC experiment.

The parent (``run_trial``, one per worker thread) makes a temporary git worktree of
the baseline commit with verify's machinery, points its DVC cache at the
repository's (so unchanged stages are checked out, not recomputed, and the outputs
of the trial land where ``dvc exp apply`` finds them), and starts one child process.
The child (``execute``, behind ``tether tune _trial``) composes params.yaml with the
composer of ``tether run``, reproduces the pipeline through DVC, reads the metric,
and saves the work tree as a DVC experiment. Each trial is a process of its own
because DVC, Hydra and the stage output redirection keep process-wide state.

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
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.backends import dvc
from tether.backends.git import GitRepo
from tether.errors import Interrupted, TetherError, UsageError
from tether.metrics.api import snapshot
from tether.pipeline.run import run
from tether.verify.worktree import remove_stale, temporary_worktree

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
        run(worktree, overrides)
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
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number):
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
        float(number),
        experiment=ref.rsplit("/", 1)[1],
        commit=commit,
        seconds=time.perf_counter() - started,
    )


# -- the parent: a worktree and a child process per trial ----------------------------

# git registers worktrees in files it writes under .git/worktrees: one at a time.
_worktree_lock = threading.Lock()


@dataclass(frozen=True)
class TrialSpec:
    number: int
    overrides: list[str]
    ref: str  # the experiment ref to save it under
    message: str


class Runner:
    """Starts trials in worktrees; ``cancel`` stops every running one."""

    def __init__(self, root: Path, baseline: str, metric: str) -> None:
        self.root = root
        self.git = GitRepo(root)
        self.baseline = baseline
        self.metric = metric
        self.cache = dvc.cache_dir(root).resolve()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop every running trial's process group (their worktrees then go away)."""
        self.cancelled.set()
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()

    def run(self, spec: TrialSpec) -> Outcome:
        """Run one trial; always returns (a failure is an Outcome, not an exception)."""
        started = time.perf_counter()
        saved = self.saved(spec)
        if saved is not None:
            return saved
        with ExitStack() as stack:
            with _worktree_lock:
                if self.cancelled.is_set():
                    return Outcome(False, reason="interrupted", interrupted=True)
                tree = stack.enter_context(
                    temporary_worktree(self.git, self.baseline, prefix=WORKTREE_PREFIX)
                )
            try:
                outcome = self._child(tree, spec)
            except TetherError as exc:
                outcome = Outcome(False, reason=exc.message)
        outcome.seconds = time.perf_counter() - started
        return outcome

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
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return Outcome(
            True,
            flat_metrics(snap.metrics),
            float(value),
            experiment=spec.ref.rsplit("/", 1)[1],
            commit=commit,
        )

    def _child(self, tree: Path, spec: TrialSpec) -> Outcome:
        dvc.share_cache(tree, self.cache, tree.parent / "site-cache")
        result = tree.parent / "result.json"
        log = tree.parent / "trial.log"
        args = [
            sys.executable,
            "-m",
            "tether",
            "tune",
            "_trial",
            "--metric",
            self.metric,
            "--ref",
            spec.ref,
            "--message",
            spec.message,
            "--result",
            str(result),
            "--",
            *spec.overrides,
        ]
        with open(log, "wb") as sink:
            # A session of its own: Ctrl-C reaches tether, which stops the trial
            # itself, so a half-run trial is always recorded as interrupted.
            proc = subprocess.Popen(
                args,
                cwd=tree,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
            with self._lock:
                self._procs[spec.number] = proc
            try:
                if self.cancelled.is_set():
                    _signal_group(proc, signal.SIGTERM)
                code = proc.wait()
            finally:
                with self._lock:
                    self._procs.pop(spec.number, None)
        if code == 0 and result.exists():
            return Outcome.from_dict(json.loads(result.read_text(encoding="utf-8")))
        # SIGTERM's handler stops child processes before the sweep hears of it.
        if self.cancelled.is_set() or code in _STOPPED:
            return Outcome(False, reason="interrupted", interrupted=True)
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL:]
        return Outcome(False, reason=f"the trial process exited with {code}: " + " | ".join(tail))


def reap_abandoned(git: GitRepo) -> int:
    """Remove the trial worktrees of tune processes that no longer run (killed
    with SIGKILL, which no cleanup survives); returns how many were removed."""
    return len(remove_stale(git, WORKTREE_PREFIX))


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
