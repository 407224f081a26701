"""A study's trials as the leaderboard needs them, read from its storage: through
Optuna, or straight from the default SQLite file by SQL (``read_sqlite``), so that
`tether tune show` loads neither Optuna nor SQLAlchemy."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.errors import UsageError
from tether.tune.storage import ATTR

Study = tuple[str, dict[str, Any], list["TrialRecord"]]  # name, tether's settings, trials


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the leaderboard needs it, from whichever reader."""

    number: int
    state: str  # Optuna's state name: COMPLETE, FAIL, RUNNING, WAITING, PRUNED
    value: float | None
    attrs: dict[str, Any]


def read_study(study: Any) -> tuple[str, dict[str, Any], list[TrialRecord]]:
    records = [
        TrialRecord(
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


def read_sqlite(path: Path, name: str | None) -> Study | None:
    """The study straight from the default SQLite file, None to ask Optuna instead.

    Written by hand because importing Optuna and SQLAlchemy alone takes about 0.9 s,
    more than `tether tune show` may take in all; it reads Optuna's tables read-only,
    and only at a schema version it knows (else Optuna reads them).
    """
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
        study_id, study_name = _chosen_study(conn, name)
        row = conn.execute(
            "SELECT value_json FROM study_user_attributes WHERE study_id = ? AND key = ?",
            (study_id, ATTR),
        ).fetchone()
        settings = json.loads(row[0]) if row else {}
        trials = conn.execute(
            "SELECT trial_id, number, state FROM trials WHERE study_id = ?", (study_id,)
        ).fetchall()
        attrs, values = _trial_attrs(conn, study_id, trials), _trial_values(conn, study_id)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    records = [TrialRecord(number, state, values.get(t), attrs[t]) for t, number, state in trials]
    return study_name, settings, records


def _chosen_study(conn: sqlite3.Connection, name: str | None) -> tuple[int, str]:
    """The id and name of study ``name``, else of the newest; UsageError for none."""
    studies = conn.execute("SELECT study_id, study_name FROM studies ORDER BY study_id").fetchall()
    names = [n for _, n in studies]
    if name is not None and name not in names:
        raise UsageError(
            f"no study named {name!r}", f"Studies here: {', '.join(names) or '(none)'}."
        )
    if not studies:
        raise UsageError(
            "no tune study yet", "Start one with `tether tune SWEEP... --metric NAME`."
        )
    return next(s for s in studies if s[1] == name) if name else studies[-1]


def _trial_attrs(
    conn: sqlite3.Connection, study_id: int, trials: list[Any]
) -> dict[int, dict[str, Any]]:
    attrs: dict[int, dict[str, Any]] = {t[0]: {} for t in trials}
    for trial_id, key, value in conn.execute(
        "SELECT a.trial_id, a.key, a.value_json FROM trial_user_attributes a "
        "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = ?",
        (study_id,),
    ):
        attrs[trial_id][key] = json.loads(value)
    return attrs


def _trial_values(conn: sqlite3.Connection, study_id: int) -> dict[int, float]:
    """Each trial's objective value; Optuna stores infinities as a value type."""
    values: dict[int, float] = {}
    for trial_id, value, kind in conn.execute(
        "SELECT v.trial_id, v.value, v.value_type FROM trial_values v "
        "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = ? AND v.objective = 0",
        (study_id,),
    ):
        values[trial_id] = {"INF_POS": math.inf, "INF_NEG": -math.inf}.get(kind, value)
    return values
