"""Drift tests: a registry of small pure functions, each with its default threshold.

Every test compares one column of the reference (a ``Sample``) with the same column
of the current data and returns a score; whether the score means drift depends on
the test's direction: a p-value drifts below its threshold, a distance at or above
it. The default test for a column is chosen as Evidently's data-drift defaults
choose it (``_get_default_stattest`` in its legacy stattests registry), so the
verdicts can be compared with that tool one to one:

    reference of 1000 rows or fewer (after removing nulls and infinities):
        numbers with more than 5 distinct values (reference and current together)  ks
        numbers with 3-5 distinct values, and categories with more than 2           chisquare
        2 distinct values or fewer                                                  z
    reference of more than 1000 rows:
        numbers with more than 5 distinct values                                    wasserstein
        everything else                                                             jensenshannon

The formulas follow that tool's too (the chi-squared expected frequencies are the
reference counts scaled to the current size; the Z-test compares the share of the
first value in sorted order; Wasserstein is normed by the reference's population
standard deviation, at least 0.001; Jensen-Shannon and PSI bin numbers with more
than 20 distinct reference values into Sturges' bins over both samples, and count
values otherwise; PSI replaces empty bins by a small share). scipy computes every
statistic.

A reference kept as quantiles (``Sample.quantiles``; a release profile of more than
1000 rows and more than 100 distinct values) is an approximation: the quantiles
stand for the rows. ``Score.approximate`` says so, and ``Sample.error`` bounds the
error of the normed Wasserstein distance (see ``tether.monitor.profile``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from tether.errors import ConfigError

NUM = "num"
CAT = "cat"

# Evidently's cut-offs, named.
SMALL_REFERENCE = 1000  # rows: up to this, hypothesis tests; above, distances
FEW_VALUES = 5  # distinct values: up to this, a number is tested as a category
BINARY = 2  # distinct values: up to this, the Z-test
BINNED_ABOVE = 20  # distinct reference values above which JS/PSI bin numbers


@dataclass(frozen=True, eq=False)
class Sample:
    """One column on one side, nulls and infinities removed.

    ``values`` holds every row (exact); numbers are sorted (``data.sample`` and the
    profile keep them so), which the tests rely on. A reference profile of a large column may
    hold ``quantiles`` instead: ``len(quantiles)`` points of equal mass standing for
    the ``n`` rows, with ``std``, ``minimum`` and ``maximum`` measured on the rows,
    and ``error``, an upper bound of the normed Wasserstein distance between the
    rows and the points.
    """

    kind: str
    n: int
    values: np.ndarray | None = None
    quantiles: np.ndarray | None = None
    std: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    error: float = 0.0
    distinct_count: int | None = None  # known distinct values (always, for quantiles)
    given_counts: dict[Any, int] | None = field(default=None, repr=False)

    @property
    def exact(self) -> bool:
        return self.values is not None

    @property
    def points(self) -> np.ndarray:
        """The rows, or the quantile points standing for them."""
        if self.values is not None:
            return self.values
        assert self.quantiles is not None
        return self.quantiles

    @cached_property
    def counts(self) -> dict[Any, int]:
        """Rows per distinct value (exact samples only)."""
        if self.given_counts is not None:
            return self.given_counts
        if self.values is None:
            raise ConfigError(
                "this test counts values, and the reference profile keeps only quantiles "
                "of this column (more than 100 distinct values)",
                "Choose ks, wasserstein, jensenshannon or psi for it, or pass the raw "
                "reference with --reference FILE.",
            )
        keys, counts = np.unique(self.values, return_counts=True)
        return dict(zip(keys.tolist(), counts.tolist(), strict=True))

    @cached_property
    def distinct(self) -> int:
        if self.distinct_count is not None:
            return self.distinct_count
        if self.values is None:
            return len(self.points)
        if self.kind == NUM:  # sorted: count the steps
            return int(np.count_nonzero(np.diff(self.values))) + 1 if self.n else 0
        return len(self.counts)

    def population_std(self) -> float:
        if self.std is not None:
            return self.std
        return float(np.std(self.points))


@dataclass(frozen=True)
class Score:
    value: float
    approximate: bool = False


@dataclass(frozen=True)
class StatTest:
    name: str
    display: str
    kinds: tuple[str, ...]
    threshold: float
    direction: str  # "p<", "p<=" (a p-value) or ">=" (a distance)
    func: Callable[[Sample, Sample], Score] = field(repr=False)

    @property
    def is_pvalue(self) -> bool:
        return self.direction.startswith("p")

    def drifted(self, score: float, threshold: float) -> bool:
        if np.isnan(score):
            # A test that cannot be computed does not pass as "no drift".
            return True
        if self.direction == "p<":
            return score < threshold
        if self.direction == "p<=":
            return score <= threshold
        return score >= threshold


REGISTRY: dict[str, StatTest] = {}


def register(
    name: str, display: str, kinds: tuple[str, ...], threshold: float, direction: str
) -> Callable[[Callable[[Sample, Sample], Score]], Callable[[Sample, Sample], Score]]:
    def add(func: Callable[[Sample, Sample], Score]) -> Callable[[Sample, Sample], Score]:
        REGISTRY[name] = StatTest(name, display, kinds, threshold, direction, func)
        return func

    return add


def get(name: str, kind: str, column: str = "") -> StatTest:
    test = REGISTRY.get(name)
    if test is None:
        raise ConfigError(
            f"unknown drift test {name!r}" + (f" for column {column!r}" if column else ""),
            f"Choose one of: {', '.join(sorted(REGISTRY))}.",
        )
    if kind not in test.kinds:
        raise ConfigError(
            f"drift test {name!r} does not apply to {'numbers' if kind == NUM else 'categories'}"
            + (f" (column {column!r})" if column else ""),
            f"Tests for this column: {', '.join(sorted(n for n, t in REGISTRY.items() if kind in t.kinds))}.",
        )
    return test


def union_distinct(ref: Sample, cur: Sample) -> int:
    """Distinct values of both samples together (Evidently's ``n_values``)."""
    # Only whether it exceeds FEW_VALUES matters: count the union only when both
    # sides have few values (a quantile profile has more than 100).
    for side in (ref, cur):
        if side.distinct > FEW_VALUES:
            return side.distinct
    return len(set(ref.counts) | set(cur.counts))


def default_test(ref: Sample, cur: Sample) -> StatTest:
    """The test Evidently's defaults choose for this column."""
    n_values = union_distinct(ref, cur)
    if ref.n <= SMALL_REFERENCE:
        if ref.kind == NUM and n_values > FEW_VALUES:
            return REGISTRY["ks"]
        return REGISTRY["chisquare"] if n_values > BINARY else REGISTRY["z"]
    if ref.kind == NUM and n_values > FEW_VALUES:
        return REGISTRY["wasserstein"]
    return REGISTRY["jensenshannon"]


# --- the tests ------------------------------------------------------------------------


def _ecdf_at(sample: Sample, x: np.ndarray) -> np.ndarray:
    """The reference's distribution function at ``x``, from its quantile points
    (each of the Q points holds 1/Q of the mass; linear between them)."""
    q = sample.points
    probs = (np.arange(len(q)) + 0.5) / len(q)
    return np.interp(x, q, probs, left=0.0, right=1.0)


@register("ks", "K-S p-value", (NUM,), 0.05, "p<=")
def ks(ref: Sample, cur: Sample) -> Score:
    from scipy import stats

    if ref.exact:
        return Score(float(stats.ks_2samp(ref.points, cur.points)[1]))
    # The largest gap between the two distribution functions, the reference's read
    # from its quantiles; the p-value from the KS distribution for n*m/(n+m).
    x = np.sort(cur.points)
    f_cur_after = np.arange(1, len(x) + 1) / len(x)
    f_cur_before = np.arange(0, len(x)) / len(x)
    f_ref = _ecdf_at(ref, x)
    d = float(max(np.max(np.abs(f_cur_after - f_ref)), np.max(np.abs(f_ref - f_cur_before))))
    en = ref.n * cur.n / (ref.n + cur.n)
    return Score(float(stats.kstwo.sf(d, round(en))), approximate=True)


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """The 1-Wasserstein distance of two samples that are already sorted.

    The same sum as ``scipy.stats.wasserstein_distance`` (the area between the two
    distribution functions), written out because scipy falls short on speed here:
    it sorts both samples again on every call (two argsorts and a sort of their
    union), while a reference profile and a batch column are sorted once, so the
    union is a merge of two sorted runs. The unit tests hold it to scipy's result.
    """
    union = np.sort(np.concatenate([u, v]), kind="stable")  # timsort merges the runs
    deltas = np.diff(union)
    u_cdf = np.searchsorted(u, union[:-1], side="right") / len(u)
    v_cdf = np.searchsorted(v, union[:-1], side="right") / len(v)
    return float(np.dot(np.abs(u_cdf - v_cdf), deltas))


@register("wasserstein", "Wasserstein distance (normed)", (NUM,), 0.1, ">=")
def wasserstein(ref: Sample, cur: Sample) -> Score:
    norm = max(ref.population_std(), 0.001)
    distance = wasserstein_sorted(ref.points, cur.points)
    return Score(distance / norm, approximate=not ref.exact)


def _chi_counts(ref: Sample, cur: Sample) -> tuple[list[Any], dict[Any, int], dict[Any, int]]:
    keys = list(set(ref.counts) | set(cur.counts))
    return keys, ref.counts, cur.counts


@register("chisquare", "chi-square p-value", (CAT, NUM), 0.05, "p<")
def chisquare(ref: Sample, cur: Sample) -> Score:
    from scipy import stats

    keys, rc, cc = _chi_counts(ref, cur)
    k_norm = cur.n / ref.n
    expected = [rc.get(k, 0) * k_norm for k in keys]
    observed = [cc.get(k, 0) for k in keys]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.chisquare(observed, expected)[1]
    return Score(float(p))


@register("z", "Z-test p-value", (CAT, NUM), 0.05, "p<")
def z(ref: Sample, cur: Sample) -> Score:
    from scipy import stats

    rc, cc = ref.counts, cur.counts
    if len(rc) == 1 and len(cc) == 1 and set(rc) == set(cc):
        return Score(1.0)
    first = sorted(set(rc) | set(cc))[0]
    # The share of rows that are not the first value, on each side.
    p1 = float(ref.n - rc.get(first, 0)) / ref.n
    p2 = float(cur.n - cc.get(first, 0)) / cur.n
    pooled = float(p1 * ref.n + p2 * cur.n) / (ref.n + cur.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / ref.n + 1.0 / cur.n))
    return Score(float(2 * (1 - stats.norm.cdf(np.abs(stat)))))


def sturges_edges(ref: Sample, cur: Sample) -> np.ndarray:
    """numpy's ``histogram_bin_edges(both, bins="sturges")``, from the extremes and
    sizes alone (so a quantile profile gives the same edges as its rows)."""
    lo = min(
        float(ref.minimum if ref.minimum is not None else np.min(ref.points)),
        float(np.min(cur.points)),
    )
    hi = max(
        float(ref.maximum if ref.maximum is not None else np.max(ref.points)),
        float(np.max(cur.points)),
    )
    if ref.exact:
        return np.histogram_bin_edges(np.concatenate([ref.points, cur.points]), bins="sturges")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / (np.log2(ref.n + cur.n) + 1.0)
    count = int(np.ceil((hi - lo) / width)) if width else 1
    return np.linspace(lo, hi, count + 1, endpoint=True)


def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    smallest = float(min(shares[shares != 0]))
    np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return shares


def binned(ref: Sample, cur: Sample, fill_zeroes: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Shares of rows per bin (numbers with many values) or per value."""
    if ref.kind == NUM and ref.distinct > BINNED_ABOVE:
        edges = sturges_edges(ref, cur)
        if ref.exact:
            ref_shares = np.histogram(ref.points, edges)[0] / ref.n
        else:
            ref_shares = np.diff(_ecdf_at(ref, edges))
            ref_shares[-1] += 1.0 - ref_shares.sum()  # the last bin is closed
        cur_shares = np.histogram(cur.points, edges)[0] / cur.n
        approximate = not ref.exact
    else:
        keys = list(set(ref.counts) | set(cur.counts))
        ref_shares = np.array([ref.counts.get(k, 0) / ref.n for k in keys])
        cur_shares = np.array([cur.counts.get(k, 0) / cur.n for k in keys])
        approximate = False
    if fill_zeroes:
        ref_shares, cur_shares = _fill_zeroes(ref_shares), _fill_zeroes(cur_shares)
    return ref_shares, cur_shares, approximate


@register("jensenshannon", "Jensen-Shannon distance", (CAT, NUM), 0.1, ">=")
def jensenshannon(ref: Sample, cur: Sample) -> Score:
    from scipy.spatial import distance

    ref_shares, cur_shares, approximate = binned(ref, cur, fill_zeroes=False)
    return Score(float(distance.jensenshannon(ref_shares, cur_shares)), approximate)


@register("psi", "PSI", (CAT, NUM), 0.1, ">=")
def psi(ref: Sample, cur: Sample) -> Score:
    ref_shares, cur_shares, approximate = binned(ref, cur, fill_zeroes=True)
    value = np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares))
    return Score(float(value), approximate)
