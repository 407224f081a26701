"""Bad input gets a named result or a clear error (exit 2), never a crash and never a
silent "no drift"; new categories, on a released project with a categorical column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import tether
from tests.monitor.conftest import shop_frame
from tether.errors import UsageError
from tether.monitor import drift, profile
from tether.monitor.config import MonitorConfig

REF = "shop-model@latest"


def _batch(tmp_path: Path, frame: pd.DataFrame, name: str = "batch.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _columns(report: drift.DriftReport) -> dict[str, drift.ColumnDrift]:
    return {c.column: c for c in report.columns}


def test_categories_never_seen_in_training_are_named_and_drift(shop: Path, tmp_path: Path) -> None:
    frame = shop_frame(200, 5, colours=("red", "green", "purple"))
    proc = tether(shop, "monitor", "drift", REF, str(_batch(tmp_path, frame)), "--json")
    assert proc.returncode == 0, proc.stderr
    colour = next(c for c in json.loads(proc.stdout)["columns"] if c["column"] == "colour")
    assert colour["status"] == "new categories" and colour["drifted"] is True
    assert "1 category never seen in training" in colour["note"] and "'purple'" in colour["note"]
    assert colour["test"] == "chisquare"  # 400 training rows, 4 colours with the new one
    # The model scored the batch regardless (its encoder ignores unknown categories).
    prediction = next(c for c in json.loads(proc.stdout)["columns"] if c["role"] == "prediction")
    assert prediction["status"] in ("ok", "drift")


def test_same_categories_same_distribution_do_not_drift(shop: Path, tmp_path: Path) -> None:
    report = drift.drift(shop, REF, _batch(tmp_path, shop_frame(300, 9)))
    columns = _columns(report)
    assert columns["colour"].status == "ok" and not report.dataset_drift
    assert report.origin == "stored"


def test_missing_extra_dtype_and_empty_columns_are_named(shop: Path, tmp_path: Path) -> None:
    frame = shop_frame(100, 3)
    missing = frame.drop(columns=["size"]).assign(note="x")
    report = drift.drift(shop, REF, _batch(tmp_path, missing, "missing.csv"))
    columns = _columns(report)
    assert columns["size"].status == "missing" and columns["size"].drifted
    assert report.extra == ["note"]
    assert columns["prediction"].status == "not scored"
    assert "could not score" in columns["prediction"].note

    text = frame.astype({"size": object})
    text.loc[:4, "size"] = "big"
    columns = _columns(drift.drift(shop, REF, _batch(tmp_path, text, "text.csv")))
    assert columns["size"].status == "dtype changed" and columns["size"].drifted
    assert "5 value(s) are not numbers: 'big'" in columns["size"].note

    empty = frame.assign(size=np.nan)
    columns = _columns(drift.drift(shop, REF, _batch(tmp_path, empty, "empty.csv")))
    assert columns["size"].status == "all null" and columns["size"].drifted
    assert "every value is null in the batch (100 rows)" in columns["size"].note

    # Infinities are left out of the tests like nulls, and said: a column of them is
    # not "all null", and one among numbers is counted in the note.
    infinite = frame.assign(size=np.inf)
    infinite.loc[:9, "size"] = np.nan
    infinite.loc[10:19, "size"] = -np.inf
    columns = _columns(drift.drift(shop, REF, _batch(tmp_path, infinite, "inf.csv")))
    assert columns["size"].status == "no finite value" and columns["size"].drifted
    assert columns["size"].note == "no finite value in the batch: 90 infinite, 10 null"
    one = frame.copy()
    one.loc[0, "size"] = np.inf
    report = drift.drift(shop, REF, _batch(tmp_path, one, "one-inf.csv"))
    size = _columns(report)["size"]
    assert size.status in ("ok", "drift") and size.current_infinite == 1
    assert "1 infinite value(s) left out of the test" in size.note
    assert (
        next(c for c in report.to_dict()["columns"] if c["column"] == "size")["current_infinite"]
        == 1
    )


def test_constant_and_all_null_reference_columns() -> None:
    reference = pd.DataFrame({"k": [1.0] * 50, "gone": [np.nan] * 50, "x": np.arange(50.0)})
    built = profile.build(reference, None)
    same = drift.compare(built, reference, MonitorConfig())
    columns = _columns(same)
    assert columns["k"].test == "z" and columns["k"].score == 1.0 and not columns["k"].drifted
    assert "constant in training" in columns["k"].note
    assert columns["gone"].status == "not tested" and not columns["gone"].counted
    moved = drift.compare(built, reference.assign(k=2.0, gone=1.0), MonitorConfig())
    columns = _columns(moved)
    assert columns["k"].drifted
    assert columns["gone"].status == "no values in training" and columns["gone"].drifted
    with pytest.raises(UsageError, match="the batch has none of the columns"):
        drift.compare(built, pd.DataFrame({"other": [1, 2]}), MonitorConfig())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "is empty: no header, no rows"),
        (b"colour,size,bought\n", "has a header but no rows"),
        (b'colour,size,bought\nred,"1,0\n', "is not a CSV file pandas can parse"),
        (b"\xff\xfe\x00garbage\x00\n\x81,\x82\n", "is not a CSV file pandas can parse"),
    ],
)
def test_unreadable_batches_exit_2(shop: Path, tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    proc = tether(shop, "monitor", "drift", REF, str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_perf_without_the_target_column_exits_2(shop: Path, tmp_path: Path) -> None:
    batch = _batch(tmp_path, shop_frame(50, 4).drop(columns=["bought"]))
    proc = tether(shop, "monitor", "perf", REF, str(batch))
    assert proc.returncode == 2
    assert "the batch has no target column 'bought'" in proc.stderr
    assert "--target COLUMN" in proc.stderr
    proc = tether(shop, "monitor", "drift", "shop-model@v9.9.9", str(batch))
    assert proc.returncode == 2 and "no release shop-model@v9.9.9" in proc.stderr


def test_a_large_batch_judged_by_p_values_carries_a_caution() -> None:
    """A million rows resampled from a 114-row split drifted in 26 of 32 columns:
    p-value tests at that size flag sampling noise. The report says so and names
    the effect-size tests; a batch of ordinary size carries no caution."""
    rng = np.random.default_rng(7)
    reference = pd.DataFrame({"x": rng.normal(size=455), "y": rng.normal(size=455)})
    built = profile.build(reference, None)
    split = reference.sample(114, random_state=1)
    small = drift.compare(built, split, MonitorConfig())
    assert small.caution == "" and small.to_dict()["caution"] == ""
    large = drift.compare(
        built, split.sample(20_000, replace=True, random_state=2), MonitorConfig()
    )
    assert large.caution.startswith(
        "caution: 2 column(s) were judged by p-value tests on 20,000 batch rows"
    )
    assert 'test = "wasserstein"' in large.caution
    assert large.to_dict()["caution"] == large.caution
