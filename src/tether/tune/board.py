"""The leaderboard of a study: one value (``Leaderboard``), read from Optuna's
storage. Kept apart from the search so that `tether tune show` loads neither
Optuna, Hydra nor DVC: the default SQLite storage is read with the standard
library (see ``_read_sqlite``)."""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.errors import ConfigError, ExternalError, UsageError

DB_FILE = Path(".tether") / "tune.db"
HEARTBEAT_SECONDS = 1
GRACE_SECONDS = 6
ATTR = "tether"  # the study's user attribute holding how it was started


@dataclass
class Row:
    """One trial on the leaderboard."""

    number: int
    state: str  # complete, failed, running, waiting, interrupted
    overrides: list[str]
    metrics: dict[str, Any]
    value: float | None
    seconds: float | None
    experiment: str | None
    commit: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "experiment": self.experiment,
            "commit": self.commit,
            "overrides": self.overrides,
            "value": self.value,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "reason": self.reason,
        }


@dataclass
class Leaderboard:
    study: str
    metric: str
    minimize: bool
    sampler: str
    sweep: list[str]
    baseline: str
    storage: str  # shown with any password masked
    rows: list[Row] = field(default_factory=list)
    # The baseline commit as a row (state "baseline", number -1): its metrics and
    # recorded overrides, what a trial has to beat. None for a study recorded
    # before tether kept them.
    reference: Row | None = None

    def beats_baseline(self, row: Row) -> bool | None:
        """Whether ``row``'s value is better than the baseline's; None when either
        has no value to compare."""
        if self.reference is None or self.reference.value is None or row.value is None:
            return None
        if self.minimize:
            return row.value < self.reference.value
        return row.value > self.reference.value

    @property
    def best(self) -> Row | None:
        done = [r for r in self.rows if r.state == "complete" and r.value is not None]
        if not done:
            return None
        pick = min if self.minimize else max
        return pick(
            done, key=lambda r: (r.value, -r.number) if not self.minimize else (r.value, r.number)
        )

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.state == state)


# -- storage ------------------------------------------------------------------------


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


# -- reading a study -------------------------------------------------------------------


def _study_name(optuna: Any, storage: Any, name: str | None) -> str:
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


@dataclass(frozen=True)
class _Record:
    """One trial as the leaderboard needs it, from whichever reader."""

    number: int
    state: str  # Optuna's state name: COMPLETE, FAIL, RUNNING, WAITING, PRUNED
    value: float | None
    attrs: dict[str, Any]


def leaderboard(
    root: Path, name: str | None = None, storage: str | None = None, *, study: Any = None
) -> Leaderboard:
    """Every trial of the study ``name`` (default: the newest one in the storage)."""
    found = None
    if study is None and storage is None:
        found = _read_sqlite(root / DB_FILE, name)
    if found is None:
        if study is None:
            optuna = load_optuna()
            opened = open_storage(root, storage, create=False)
            study = optuna.load_study(study_name=_study_name(optuna, opened, name), storage=opened)
        found = _read_study(study)
    study_name, settings, records = found
    board = Leaderboard(
        study=study_name,
        metric=settings.get("metric", "value"),
        minimize=bool(settings.get("minimize")),
        sampler=settings.get("sampler", "?"),
        sweep=list(settings.get("sweep", [])),
        baseline=settings.get("baseline", ""),
        storage=shown_url(storage_url(root, storage)),
        reference=_reference(settings),
    )
    for record in sorted(records, key=lambda r: r.number):
        attrs = record.attrs
        if attrs.get("discarded"):
            continue
        if record.state == "COMPLETE":
            state = "complete"
        elif record.state == "FAIL":
            state = "interrupted" if attrs.get("requeued") or not attrs.get("reason") else "failed"
        else:
            state = record.state.lower()
        board.rows.append(
            Row(
                number=record.number,
                state=state,
                overrides=list(attrs.get("overrides") or []),
                metrics=dict(attrs.get("metrics") or {}),
                value=record.value if state == "complete" else None,
                seconds=attrs.get("seconds"),
                experiment=attrs.get("experiment") if state == "complete" else None,
                commit=attrs.get("commit"),
                reason=attrs.get("reason")
                or ("worker stopped (retried)" if state == "interrupted" else None),
            )
        )
    return board


def _reference(settings: dict[str, Any]) -> Row | None:
    if "baseline_metrics" not in settings:
        return None
    value = settings.get("baseline_value")
    return Row(
        number=-1,
        state="baseline",
        overrides=list(settings.get("baseline_overrides") or []),
        metrics=dict(settings.get("baseline_metrics") or {}),
        value=float(value) if isinstance(value, int | float) else None,
        seconds=None,
        experiment=None,
        commit=settings.get("baseline"),
        reason=None,
    )


def _read_study(study: Any) -> tuple[str, dict[str, Any], list[_Record]]:
    records = [
        _Record(
            t.number,
            t.state.name,
            t.value if t.state.name == "COMPLETE" else None,
            dict(t.user_attrs),
        )
        for t in study.get_trials(deepcopy=False)
    ]
    return study.study_name, dict(study.user_attrs.get(ATTR) or {}), records


# Optuna's RDB schema versions whose tables _read_sqlite knows.
_KNOWN_SCHEMAS = {"v3.2.0.a"}


def _read_sqlite(path: Path, name: str | None) -> tuple[str, dict[str, Any], list[_Record]] | None:
    """The study straight from the default SQLite file, None to ask Optuna instead.

    Written by hand because importing Optuna and SQLAlchemy alone takes about 0.9 s,
    more than `tether tune show` may take in all; it reads Optuna's tables read-only,
    and only at a schema version it knows (else Optuna reads them).
    """
    import sqlite3

    if not path.exists():
        raise UsageError(
            "no tune study in this repository yet",
            "Start one with `tether tune SWEEP... --metric NAME`.",
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if version is None or version[0] not in _KNOWN_SCHEMAS:
            return None
        studies = conn.execute(
            "SELECT study_id, study_name FROM studies ORDER BY study_id"
        ).fetchall()
        names = [n for _, n in studies]
        if name is not None and name not in names:
            raise UsageError(
                f"no study named {name!r}", f"Studies here: {', '.join(names) or '(none)'}."
            )
        if not studies:
            raise UsageError(
                "no tune study yet", "Start one with `tether tune SWEEP... --metric NAME`."
            )
        study_id, study_name = (
            next(s for s in studies if name in (None, s[1])) if name else studies[-1]
        )
        row = conn.execute(
            "SELECT value_json FROM study_user_attributes WHERE study_id = ? AND key = ?",
            (study_id, ATTR),
        ).fetchone()
        settings = json.loads(row[0]) if row else {}
        trials = conn.execute(
            "SELECT trial_id, number, state FROM trials WHERE study_id = ?", (study_id,)
        ).fetchall()
        attrs: dict[int, dict[str, Any]] = {t[0]: {} for t in trials}
        for trial_id, key, value in conn.execute(
            "SELECT a.trial_id, a.key, a.value_json FROM trial_user_attributes a "
            "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = ?",
            (study_id,),
        ):
            attrs[trial_id][key] = json.loads(value)
        values: dict[int, float] = {}
        for trial_id, value, kind in conn.execute(
            "SELECT v.trial_id, v.value, v.value_type FROM trial_values v "
            "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = ? AND v.objective = 0",
            (study_id,),
        ):
            values[trial_id] = {"INF_POS": math.inf, "INF_NEG": -math.inf}.get(kind, value)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    records = [_Record(number, state, values.get(tid), attrs[tid]) for tid, number, state in trials]
    return study_name, settings, records


def sort_rows(board: Leaderboard, metric: str | None) -> list[Row]:
    """Finished trials best first by ``metric`` (default: the study's), then the rest."""
    key = metric or board.metric

    def score(row: Row) -> float | None:
        value = row.value if key == board.metric else row.metrics.get(key)
        return float(value) if isinstance(value, int | float) else None

    scored = [r for r in board.rows if score(r) is not None]
    lower = board.minimize if key == board.metric else False
    scored.sort(key=lambda r: (score(r) if lower else -(score(r) or 0.0), r.number))
    rest = [r for r in board.rows if score(r) is None]
    return scored + rest


def find_trial(board: Leaderboard, which: str) -> Row:
    """``best``, a trial number, or an experiment name."""
    if which == "best":
        best = board.best
        if best is None:
            raise UsageError(
                f"study {board.study!r} has no finished trial yet", "Run `tether tune` first."
            )
        return best
    for row in board.rows:
        if which in (str(row.number), row.experiment):
            if row.state != "complete":
                raise UsageError(
                    f"trial {row.number} did not finish ({row.state}): nothing to apply",
                    "Pick a finished trial from `tether tune show`.",
                )
            return row
    raise UsageError(
        f"no trial {which!r} in study {board.study!r}",
        "Name a trial by its number or experiment (see `tether tune show`), or say `best`.",
    )
