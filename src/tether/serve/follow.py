"""Following the registry: every ``poll`` seconds, fetch tags and resolve REF again.

One background thread. Each check fetches the Git remote's tags (``origin``, or the
only remote; local tags alone when there is none), resolves the reference through
the registry doors, and when it names another release (or other bytes) fetches,
verifies, loads and warms that one beside the serving model, then swaps. Whatever
fails (fetching tags, resolving, fetching bytes, a hash mismatch, unpickling, the
warm-up) leaves the serving model in place and is said in ``/health``. A stage
that lost its version keeps the last model serving, and ``/health`` says that too.

A fetch is stopped after ``fetch_timeout`` seconds (a remote that accepts and never
answers would otherwise hold the follower forever), and ``/health`` turns degraded
when no check has reached the registry for ``fetch_timeout`` plus three polls,
whatever held it up.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from tether import revisions
from tether.backends.git import GitRepo
from tether.errors import TetherError
from tether.registry.tags import parse_reference
from tether.serve import source
from tether.serve.holder import Holder
from tether.serve.metrics import Metrics
from tether.serve.model import Release

log = logging.getLogger("tether.serve")


def git_remote(root: Path) -> str | None:
    """The Git remote to fetch tags from: ``origin``, else the only one, else None."""
    remotes = GitRepo(root).remotes()
    if "origin" in remotes:
        return "origin"
    return remotes[0] if len(remotes) == 1 else None


def stale_after(poll: float, fetch_timeout: float) -> float:
    """Seconds without a successful registry check before /health says degraded: three
    polls, at least 10 s so that one slow fetch does not flap it, and never longer
    than a fetch is allowed plus three polls. (At --poll 1 with the default 30 s
    fetch timeout, a remote that never answers is degraded after 10 s, not 33 s.)"""
    return min(fetch_timeout + 3 * poll, max(3 * poll, 10.0))


class RegistryFollower:
    def __init__(
        self,
        root: Path,
        ref: str,
        holder: Holder,
        poll: float,
        *,
        metrics: Metrics | None = None,
        dvc_remote: str | None = None,
        retry_after: float | None = None,
        fetch_timeout: float = 30.0,
    ) -> None:
        self.root = root
        self.ref = ref
        self.reference = parse_reference(ref)
        self.holder = holder
        self.poll = poll
        self.metrics = metrics
        self.dvc_remote = dvc_remote
        self.remote = git_remote(root)
        # a release that failed to load is tried again after this long, not every poll
        self.retry_after = retry_after if retry_after is not None else max(10.0, 10 * poll)
        self.fetch_timeout = fetch_timeout
        self.stale_after = stale_after(poll, fetch_timeout)
        self._started_at: float | None = None
        self._failed: tuple[str, str, float] | None = None  # (tag, md5, when)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "poll_seconds": self.poll,
            "git_remote": self.remote,
            "fetch_timeout_seconds": self.fetch_timeout,
        }

    def stale(self) -> str | None:
        """Why the registry's view is out of date, when no check has reached it for
        longer than ``stale_after`` seconds; None while the follower keeps up."""
        if self._started_at is None:
            return None
        last = self.holder.status.succeeded_at or self._started_at
        age = time.time() - last
        if age <= self.stale_after:
            return None
        since = "since the server started" if self.holder.status.succeeded_at is None else ""
        return (
            f"no registry check has succeeded for {age:.0f} s{' ' + since if since else ''} "
            f"(one every {self.poll:g} s; a fetch is stopped after {self.fetch_timeout:g} s): "
            "a promote or rollback made meanwhile is not followed"
        )

    def start(self) -> None:
        if self._thread is None and self.poll > 0:
            self._started_at = time.time()
            self._thread = threading.Thread(target=self._loop, name="tether-follow", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.check()
            except Exception as exc:  # the follower must outlive any surprise
                log.exception("registry check failed")
                self.holder.checked(problem=f"the registry check failed: {exc}", reached=False)

    def _unresolved(
        self, exc: TetherError, serving: Release, problems: list[str], fetched: bool
    ) -> None:
        """Say in /health why REF named nothing this poll; the model keeps serving."""
        if self.reference is not None and self.reference.stage is not None:
            note = f"{self.ref} names no version now ({exc.message}); keeps serving {serving.label}"
            self.holder.checked(problem="; ".join(problems) or None, note=note, reached=fetched)
        else:
            problems.append(f"{self.ref} does not resolve: {exc.message}")
            self.holder.checked(problem="; ".join(problems), reached=False)

    def check(self) -> None:
        """One pass: fetch tags, resolve, and swap if the reference moved."""
        problems: list[str] = []
        fetched = True
        serving = self.holder.current.release
        with GitRepo(self.root) as git:  # one git session and one registry read per poll
            if self.remote is not None:
                try:
                    git.fetch_tags(self.remote, timeout=self.fetch_timeout)
                except TetherError as exc:
                    fetched = False
                    problems.append(f"could not fetch tags from {self.remote}: {exc.message}")
            try:
                located = source.locate(self.root, revisions.release(git, self.ref))
            except TetherError as exc:
                self._unresolved(exc, serving, problems, fetched)
                return
        release = located.release
        if release.tag == serving.tag and release.model_md5 == serving.model_md5:
            self.holder.checked(problem="; ".join(problems) or None, reached=fetched)
            return
        failed = self._failed
        if (
            failed is not None
            and failed[:2] == (release.tag, release.model_md5)
            and time.monotonic() - failed[2] < self.retry_after
        ):
            return  # the problem is still in /health; try again later
        try:
            new = source.load_release(self.root, located, self.dvc_remote)
        except (TetherError, ValueError) as exc:
            message = exc.message if isinstance(exc, TetherError) else str(exc)
            self._failed = (release.tag, release.model_md5, time.monotonic())
            if self.metrics is not None:
                self.metrics.load_failures.inc()
            problems.append(f"{release.label} is not served: {message}")
            log.warning("%s: %s", self.ref, problems[-1])
            self.holder.checked(
                problem="; ".join(problems), note=f"keeps serving {serving.label}", reached=fetched
            )
            return
        self._failed = None
        self.holder.swap(new)
        self.holder.checked(problem="; ".join(problems) or None, reached=fetched)
        log.info("%s: now serving %s (was %s)", self.ref, new.release.label, serving.label)
