"""Reading a batch: CSV into a frame, a column into a clean sample of its kind.

Every way a batch can be wrong ends here as a named problem or a UsageError
(exit 2): a file that is not there or does not parse, no rows, a column whose
values do not fit the kind the reference gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tether.errors import UsageError
from tether.monitor.stattests import CAT, NUM, Sample


def read_csv(path: Path, what: str = "data") -> pd.DataFrame:
    """A CSV file as a frame; UsageError when it is missing, unparsable or empty."""
    if not path.is_file():
        raise UsageError(f"{what} file {path} does not exist", "Give the path of a CSV file.")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UsageError(
            f"{what} file {path} is empty: no header, no rows",
            "Give a CSV file with a header line and at least one row.",
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"{what} file {path} is not a CSV file pandas can parse: {first}",
            "Check its delimiter (a comma), quoting and encoding (UTF-8).",
        ) from None
    if len(frame) == 0:
        raise UsageError(
            f"{what} file {path} has a header but no rows, so nothing can be compared",
            "Give a batch with at least one row.",
        )
    return frame


def kind_of(series: pd.Series, categorical: frozenset[str] = frozenset()) -> str:
    """``num`` for numeric columns (booleans excepted), ``cat`` for the rest or when
    configured as categorical."""
    if series.name in categorical:
        return CAT
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return CAT
    return NUM


@dataclass(frozen=True)
class Cleaned:
    """A column's non-null values as its kind, and what was taken out."""

    values: np.ndarray
    nulls: int
    unparsable: int  # values present but not numbers, in a numeric column
    examples: tuple[str, ...]  # a few of them, for the message
    infinite: int = 0  # +inf and -inf, left out of the tests like nulls, and counted


def clean(series: pd.Series, kind: str) -> Cleaned:
    """Nulls and infinities removed (as Evidently removes them); numbers as float64,
    categories as strings."""
    if kind == NUM:
        numbers = pd.to_numeric(series, errors="coerce")
        present = series.notna()
        bad = present & numbers.isna()
        examples = tuple(str(v) for v in series[bad].unique()[:3])
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        infinite = int(np.isinf(values).sum())
        nulls = int((~finite).sum()) - infinite - int(bad.sum())
        return Cleaned(values[finite], nulls, int(bad.sum()), examples, infinite)
    present = series.dropna()
    values = present.astype(str).to_numpy(dtype=object)
    return Cleaned(values, int(len(series) - len(present)), 0, ())


def value_counts(values: np.ndarray) -> dict[object, int]:
    """Rows per value (pandas hashes; numpy's unique would sort strings)."""
    counts = pd.Series(values, copy=False).value_counts(sort=False)
    return dict(zip(counts.index.tolist(), counts.to_numpy().tolist(), strict=True))


def sample(values: np.ndarray, kind: str) -> Sample:
    """A side of a test: numbers sorted once for every test, categories counted at
    once (every test on them counts)."""
    if kind == CAT:
        counts = value_counts(values)
        return Sample(
            kind, len(values), values=values, distinct_count=len(counts), given_counts=counts
        )
    return Sample(kind=kind, n=len(values), values=np.sort(values))
