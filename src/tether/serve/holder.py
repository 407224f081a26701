"""The one model holder: the model that answers now, and what the follower saw.

A request reads ``holder.current`` once and keeps that ``Served`` for its whole
life, so a swap never changes the model under a request in flight: the old model
stays alive until its last request lets go of it. ``swap`` is one reference
assignment, done only after the new model has loaded and passed its warm-up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tether.serve.model import Served


@dataclass
class Status:
    """What /health reports besides the model: the last check and any problem."""

    checked_at: float | None = None  # time.time() of the last registry check
    succeeded_at: float | None = None  # ... of the last one that fetched and resolved
    problem: str | None = None  # why the registry's choice is not served, if it is not
    note: str | None = None  # a state worth saying that is not a failure
    swaps: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # last swaps, newest last


class Holder:
    """Holds the served model; thread-safe for one writer (the follower) and many
    readers (requests)."""

    def __init__(self, served: Served) -> None:
        self._current = served
        self._lock = threading.Lock()
        self.status = Status()
        self.on_swap: list[Any] = []  # callbacks(old, new), e.g. metrics

    @property
    def current(self) -> Served:
        return self._current

    def swap(self, new: Served) -> Served:
        """Serve ``new`` from now on (it is already loaded and warm); returns the old one."""
        with self._lock:
            old = self._current
            self._current = new
            self.status.swaps += 1
            self.status.problem = None
            self.status.history.append(
                {"from": old.release.label, "to": new.release.label, "at": time.time()}
            )
            del self.status.history[:-20]
        for callback in self.on_swap:
            callback(old, new)
        return old

    def checked(
        self, problem: str | None = None, note: str | None = None, reached: bool = True
    ) -> None:
        """Record a registry check: what failed (or None), anything worth saying, and
        whether it reached the registry (fetched, or had no remote, and resolved)."""
        with self._lock:
            self.status.checked_at = time.time()
            if reached:
                self.status.succeeded_at = self.status.checked_at
            self.status.problem = problem
            self.status.note = note
