"""Stop the processes a command started when the command itself is told to stop.

DVC runs a stage command as a child of tether and ignores SIGINT while it waits
(dvc/stage/run.py), and SIGTERM would kill tether alone: the stage would keep
running and write its outputs after tether is gone. ``SignalGuard`` runs the DVC
work in a worker thread so that tether's main thread keeps its own handlers; on
SIGINT, SIGTERM or SIGHUP it passes the signal on to every process tether started
(children and their children: the whole stage command), waits for them, and then
raises ``Interrupted`` (exit 130 for SIGINT, 143 otherwise). A second signal, or
a stage still alive after ``grace`` seconds, gets SIGKILL.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tether.errors import Interrupted

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def environ_restored(keys: Sequence[str]) -> Iterator[None]:
    """Inside, change ``keys`` of this process's environment (the children it
    starts inherit them); on the way out each is put back, or removed again."""
    saved = {key: os.environ.get(key) for key in keys}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def descendants() -> list[Any]:
    """Every live process this one started, directly or not (psutil processes)."""
    import psutil

    return psutil.Process().children(recursive=True)


def signal_descendants(signum: int) -> list[Any]:
    """Send ``signum`` to every descendant; return the processes signalled."""
    import psutil

    found = descendants()
    for proc in found:
        try:
            proc.send_signal(signum)
        except psutil.Error:
            pass
    return found


class SignalGuard:
    """Inside ``signals_forwarded()``: which stop signal arrived, if any."""

    def __init__(self, grace: float, forward: bool = True) -> None:
        self.grace = grace
        self.forward = forward
        self.received: int | None = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is None:
            self.received = signum
            if self.forward:
                signal_descendants(signum)
        else:  # asked twice: stop now
            signal_descendants(signal.SIGKILL)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def interrupted(self, message: str, hint: str | None = None) -> Interrupted:
        """The error to raise for the signal received: exit 130 for SIGINT, else 143."""
        return Interrupted(message, hint, terminated=self.received != signal.SIGINT)

    def check(self) -> None:
        """Raise ``Interrupted`` if a stop signal has arrived."""
        if self.received is not None:
            raise self.interrupted(f"interrupted by {self.signal_name}")

    def call(self, work: Callable[[], T]) -> T:
        """Run ``work`` in a worker thread and return its result, or raise what it
        raised; after a stop signal, wait for the processes it started and raise
        ``Interrupted`` instead."""
        self.check()
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = work()
            except BaseException as exc:  # handed to the main thread below
                outcome["error"] = exc

        worker = threading.Thread(target=target, name="tether-stage", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.1)  # short waits: the main thread runs handlers in between
            if self.received is not None:
                worker.join(self.grace)
                if worker.is_alive():
                    signal_descendants(signal.SIGKILL)
                    worker.join(self.grace)
                break
        self.check()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


@contextmanager
def signals_forwarded(grace: float = 10.0, forward: bool = True) -> Iterator[SignalGuard]:
    """Catch stop signals while inside (main thread only: elsewhere Python cannot
    set handlers, and ``call`` simply runs the work).

    With ``forward=False`` the first signal is only noted in ``received``: for a
    caller that stops its own processes at a point of its choosing. A signal
    raised as KeyboardInterrupt could land anywhere, e.g. inside an SQLite
    transaction whose lock then outlives it."""
    guard = SignalGuard(grace, forward)
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    saved = {sig: signal.signal(sig, guard._handle) for sig in STOP_SIGNALS}
    try:
        yield guard
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into KeyboardInterrupt while inside, so ``finally``
    blocks run as they do for Ctrl-C; the processes this one started are stopped
    first (SIGTERM, then 5 s), so none writes into what the ``finally`` removes.
    Only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        import psutil

        psutil.wait_procs(signal_descendants(signal.SIGTERM), timeout=5)
        raise KeyboardInterrupt

    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    saved = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


class SessionChild:
    """A child process in a session (and process group) of its own, spoken to a line
    at a time over its stdin and stdout; stderr goes to a file. Ctrl-C at the
    terminal reaches only the parent, which decides when and how the child stops;
    ``signal`` reaches the child and everything it started."""

    def __init__(self, args: Sequence[str], cwd: Path, stderr: Path) -> None:
        import subprocess

        with open(stderr, "wb") as sink:
            self._proc = subprocess.Popen(
                list(args),
                cwd=cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=sink,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def ask(self, line: bytes) -> bytes:
        """Write ``line`` (newline added) and read the answer's line; b"" when the
        child is gone (then ``wait`` gives its exit status)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(line + b"\n")
            self._proc.stdin.flush()
            return self._proc.stdout.readline()
        except OSError:  # BrokenPipeError included
            return b""

    def wait(self) -> int:
        return self._proc.wait()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child's whole process group."""
        import os

        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def close_stdin(self) -> None:
        """End of input: a child that reads until it closes then exits."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def wait_or_kill(self, timeout: float) -> int:
        """The exit status within ``timeout`` seconds, else after SIGKILL to the group."""
        import subprocess

        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self._proc.wait()

    def close(self, timeout: float) -> None:
        """Close stdin, wait up to ``timeout`` (then SIGKILL), release the pipes."""
        self.close_stdin()
        self.wait_or_kill(timeout)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def python_json(
    python: str, code: str, env: dict[str, str], cwd: Path, timeout: float = 300.0
) -> dict[str, Any] | None:
    """Run ``python -c code`` with exactly ``env`` in ``cwd`` and parse the JSON object
    it prints last; None when it fails, times out or prints no object (a probe must
    never stop the command that asked: it only explains)."""
    import json
    import subprocess

    try:
        done = subprocess.run(
            [python, "-c", code],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None
    try:
        found = json.loads(lines[-1])
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
