"""Where a study lives: Optuna's RDB storage (the repository's SQLite file by
default, or a database URL such as PostgreSQL), opened with heartbeats, and the
names of the studies in it."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

from tether.errors import ConfigError, ExternalError, UsageError

DB_FILE = Path(".tether") / "tune.db"
HEARTBEAT_SECONDS = 1
GRACE_SECONDS = 6
ATTR = "tether"  # the study's user attribute holding how it was started


def storage_url(root: Path, storage: str | None) -> str:
    if storage:
        return storage
    return f"sqlite:///{(root / DB_FILE).resolve()}"


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def load_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # Heartbeats are recorded by the sweep loop itself (ask-and-tell, not optimize).
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
    return optuna


def _sqlite_connector(path: str) -> Any:
    """Connections to the SQLite file at ``path`` in WAL mode with synchronous=NORMAL.

    SQLite's defaults (a rollback journal, synchronous=FULL) wait for the disk at
    every commit, and a sweep commits some thirty times a trial (heartbeats, the
    trial's attributes, ask and tell): 5 ms each here, on the sweep's critical path
    between trials. With the write-ahead log, a commit is written but not waited
    for; a killed sweep loses nothing (the operating system holds the write), only
    a machine that crashes can lose the last records, and resuming then finds the
    trials saved as experiments without running them again (``Runner.saved``).
    Readers (`tether tune show`) never wait for a sweep that is writing.
    """
    import sqlite3

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return connect


def open_storage(root: Path, storage: str | None, create: bool) -> Any:
    """Optuna's RDB storage with heartbeats; ExternalError when it cannot be opened."""
    optuna = load_optuna()
    url = storage_url(root, storage)
    if url.startswith("sqlite:///") and storage is None:
        path = root / DB_FILE
        if not create and not path.exists():
            raise UsageError(
                "no tune study in this repository yet",
                "Start one with `tether tune SWEEP... --metric NAME`.",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql://"):
        # The driver tether installs (extra tune-pg): psycopg 3, whatever SQLAlchemy's
        # default for a bare postgresql:// URL is in the installed version.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine: dict[str, Any] = {}
    if url.startswith("sqlite:///") and "?" not in url:
        engine["creator"] = _sqlite_connector(url.removeprefix("sqlite:///"))
    elif url.startswith("sqlite"):
        engine["connect_args"] = {"timeout": 60}
    # Workers started together all create Optuna's tables on first use; PostgreSQL
    # lets one win and fails the others (a unique violation on the table types).
    # Opening again then finds the tables made.
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=3
                ),
            )
        except ImportError as exc:
            raise ConfigError(
                f"no database driver for {shown_url(url)}: {exc}",
                "For PostgreSQL install the extra: pip install 'tether[tune-pg]'.",
            ) from None
        except Exception as exc:  # SQLAlchemy's OperationalError and kin
            if attempt < 4 and ("already exists" in str(exc) or "duplicate key" in str(exc)):
                time.sleep(0.5 + attempt)
                continue
            raise ExternalError(
                f"cannot open the study storage {shown_url(url)}: {str(exc).splitlines()[0]}",
                "Check the URL, that the database server runs and that you may connect.",
            ) from None
    raise AssertionError("unreachable")


def chosen_study(optuna: Any, storage: Any, name: str | None) -> str:
    """The study ``name`` in ``storage``, else the newest; UsageError for none."""
    names = optuna.study.get_all_study_names(storage)
    if name is not None:
        if name not in names:
            raise UsageError(
                f"no study named {name!r}",
                f"Studies here: {', '.join(names) or '(none)'}.",
            )
        return name
    if not names:
        raise UsageError(
            "no tune study yet", "Start one with `tether tune SWEEP... --metric NAME`."
        )
    return names[-1]  # the newest
