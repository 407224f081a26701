"""Running stages through DVC: in the right interpreter, with DVC's echoes left out
or the commands' output sent to a log, and a failing command told apart from DVC
failing. Also checkout, and applying an experiment."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tether.backends.dvc.repo import (
    dvc_error_types,
    exception_chain,
    log_level,
    open_repo,
    raise_if_locked,
    stage_label,
)
from tether.backends.process import environ_restored
from tether.errors import ExternalError, StageFailed

if TYPE_CHECKING:
    from dvc.repo import Repo


@contextmanager
def interpreter_first_on_path(env_bin: Path | None = None) -> Iterator[None]:
    """Stage commands say ``python``: make that the interpreter tether runs in, so a
    pipeline started from a virtual environment runs in it even when not activated.

    With ``env_bin`` (a replayed environment's ``bin``), stage commands run in that
    environment instead, as if it were activated: its ``python`` and scripts come
    first on PATH, and no PYTHONPATH, PYTHONHOME or user site-packages of the
    calling environment reach them (a stage still sets its own PYTHONPATH).
    """
    import sys

    first = str(env_bin) if env_bin else os.path.dirname(sys.executable)
    with environ_restored(_REPLAY_VARIABLES):
        os.environ["PATH"] = os.pathsep.join([first, os.environ.get("PATH", "")])
        if env_bin is not None:
            os.environ["VIRTUAL_ENV"] = str(env_bin.parent)
            os.environ["PYTHONNOUSERSITE"] = "1"
            os.environ.pop("PYTHONPATH", None)
            os.environ.pop("PYTHONHOME", None)
            # uv installs without compiling (compiling every module would cost more
            # than a replay's build); the stages' interpreter writes the bytecode of
            # what they import into the replayed environment once, instead of
            # compiling it again in every stage of every verify where
            # PYTHONDONTWRITEBYTECODE is set.
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        yield


_REPLAY_VARIABLES = (
    "PATH",
    "VIRTUAL_ENV",
    "PYTHONNOUSERSITE",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONDONTWRITEBYTECODE",
)


# DVC's progress lines that tether's own progress says already ("[2/4] prepare up
# to date", "[3/4] train ...", "[1/4] ingest restored from DVC's run-cache"), by
# their format strings (dvc/stage/__init__.py, dvc/stage/run.py, dvc/dvcfile.py,
# dvc/stage/cache.py). The command line DVC echoes ("> python ...") and everything
# a stage prints still show.
_ECHOED = frozenset(
    {
        "Stage '%s' didn't change, skipping",
        "'%s' didn't change, skipping",
        "Running stage '%s':",
        "Updating lock file '%s'",
    }
)
_RESTORED = "Stage '%s' is cached - skipping run, checking out outputs"
_ECHO_LOGGERS = ("dvc.stage", "dvc.stage.run", "dvc.dvcfile", "dvc.stage.cache")


@contextmanager
def _without_echoes(restored: list[str]) -> Iterator[None]:
    """Leave DVC's echoes out while inside; a stage DVC restored from its run-cache
    instead of running is appended to ``restored``."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        if record.msg == _RESTORED:
            restored.append(str(record.args))
            return False
        return record.msg not in _ECHOED

    loggers = [logging.getLogger(name) for name in _ECHO_LOGGERS]
    for log in loggers:
        log.addFilter(keep)
    try:
        yield
    finally:
        for log in loggers:
            log.removeFilter(keep)


def reproduce_stage(
    repo: Repo, addressing: str, force: bool = False
) -> Literal["ran", "restored", "up to date"]:
    """Reproduce one stage: "ran" when its command ran, "restored" when DVC took its
    outputs from the run-cache (the same deps and params ran before), "up to date"
    when nothing needed doing.

    Raises StageFailed when the stage's command exited non-zero, ExternalError when
    DVC itself failed (a missing dependency, the cache...), DvcLocked for its lock.
    """
    restored: list[str] = []
    try:
        with interpreter_first_on_path(), _without_echoes(restored):
            done = repo.reproduce(addressing, single_item=True, force=force)
    except dvc_error_types() as exc:
        raise_if_locked(repo, exc)
        causes = exception_chain(exc)
        # DVC's outer message is "failed to reproduce 'X'"; the reason is inside.
        message = f"stage {addressing!r} failed: {causes[-1]}"
        if any(_command_failed(c) for c in causes):
            raise StageFailed(message) from None
        raise ExternalError(message) from None
    if not done:
        return "up to date"
    return "restored" if restored else "ran"


# A stage command killed by Ctrl-C (SIGINT) or SIGTERM: the shell reports 128+N,
# or the negative signal number when the command was exec'd directly.
_INTERRUPTED_STATUS = ("exited with -2", "exited with 130", "exited with -15", "exited with 143")


def reproduce_forced(
    repo: Repo, stage: Any, log: Path | None = None, env_bin: Path | None = None
) -> None:
    """Run one stage's command for real, whatever dvc.lock and the run-cache say.

    ``force=True`` is ``dvc repro --force``: DVC skips both its up-to-date check and
    the run-cache restore (dvc/stage/run.py ``run_stage``), so the command runs.
    ``no_commit`` keeps the outputs out of the cache: they are hashed by tether.
    What the command prints goes to ``log`` (appended), else to stderr. With
    ``env_bin`` the command runs in that environment (``interpreter_first_on_path``).
    """
    import logging

    try:
        with (
            interpreter_first_on_path(env_bin),
            _stage_output_to(log),
            log_level(logging.WARNING),
        ):
            repo.reproduce(stage.addressing, single_item=True, force=True, no_commit=True)
    except dvc_error_types() as exc:
        causes = exception_chain(exc)
        if any(str(c).endswith(s) for c in causes for s in _INTERRUPTED_STATUS):
            raise KeyboardInterrupt from None
        detail = str(causes[-1])  # the innermost reason: "failed to run: CMD, exited with N"
        tail = ""
        if log and log.exists():
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            tail = "\n" + "\n".join(f"  | {line}" for line in lines) if lines else ""
        name = stage_label(repo, stage)
        failed = StageFailed if any(_command_failed(c) for c in causes) else ExternalError
        raise failed(f"stage {name!r} failed: {detail}{tail}") from None


@contextmanager
def _stage_output_to(log: Path | None) -> Iterator[None]:
    """Send what stage commands print to ``log`` (both streams), or with no log
    to stderr, so stdout stays for tether's own output (``--json``). Done on the
    file descriptors, which the commands inherit from DVC."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    sink = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if log else 2
    try:
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        if log:
            os.close(sink)


def _command_failed(exc: BaseException) -> bool:
    """Whether DVC raised ``exc`` because a stage's own command exited non-zero."""
    from dvc.stage.exceptions import StageCmdFailedError

    return isinstance(exc, StageCmdFailedError)


def checkout(repo: Repo, targets: Sequence[str]) -> None:
    """Place ``targets`` in the workspace from the cache."""
    try:
        repo.checkout(targets=list(targets))
    except dvc_error_types() as exc:
        raise ExternalError(f"dvc checkout failed: {exc}") from None


def restore_outputs(repo: Repo) -> None:
    """``dvc checkout --force``: every output as dvc.lock records it, from the cache;
    an output already so is left alone. One the cache lacks stays as it is (its
    stage then runs, as in a fresh checkout)."""
    from dvc.exceptions import CheckoutError

    try:
        with log_level(30):
            repo.checkout(force=True)
    except CheckoutError:
        pass


def apply_experiment(root: Path, rev: str) -> None:
    """``dvc exp apply REV``: the experiment's files into the work tree, and its
    outputs from the cache (nothing is run).

    DVC then points ``refs/exps/exec/EXEC_APPLY`` at the experiment; nothing in DVC
    3 reads it back (``Experiments._get_last_applied`` has no caller; ``dvc exp
    remove`` only deletes it), and a ref left there is listed by ``git for-each-ref``
    and pushed by a mirror push, so it is removed again."""
    from dvc.repo.experiments.apply import apply
    from dvc.repo.experiments.refs import EXEC_APPLY

    with open_repo(root) as repo:
        try:
            with log_level(30):
                apply(repo, rev)
        except dvc_error_types() as exc:
            raise ExternalError(
                f"dvc exp apply failed: {exception_chain(exc)[-1]}",
                "Commit or stash your changes to params.yaml, dvc.lock and the metrics "
                "first, then try again.",
            ) from None
        finally:
            if repo.scm.get_ref(EXEC_APPLY) is not None:
                repo.scm.remove_ref(EXEC_APPLY)
