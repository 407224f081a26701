"""Each drift test against scipy on the raw data, the default choice of test, and the
error of the quantile profile against the exact statistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from tether.errors import ConfigError
from tether.monitor import data, drift, profile, stattests
from tether.monitor.config import ColumnRule, MonitorConfig, param, parse
from tether.monitor.stattests import CAT, NUM, Sample

RNG = np.random.default_rng(7)


def num(values) -> Sample:
    return data.sample(np.asarray(values, dtype=float), NUM)


def cat(values) -> Sample:
    return data.sample(np.asarray(values, dtype=object), CAT)


def test_ks_is_scipys_two_sample_test_with_drift_at_or_below_the_threshold() -> None:
    a, b = RNG.normal(0, 1, 300), RNG.normal(0.3, 1, 200)
    score = stattests.ks(num(a), num(b))
    assert score.value == stats.ks_2samp(a, b).pvalue
    test = stattests.REGISTRY["ks"]
    assert test.drifted(0.05, 0.05) and not test.drifted(0.0501, 0.05)


def test_wasserstein_is_normed_by_the_reference_population_std() -> None:
    a, b = RNG.normal(5, 2, 3000), RNG.normal(5.5, 2, 2000)
    score = stattests.wasserstein(num(a), num(b))
    assert score.value == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a), abs=1e-12)
    constant = stattests.wasserstein(num(np.ones(2000)), num(np.full(10, 1.01)))
    assert constant.value == pytest.approx(0.01 / 0.001)  # the norm is at least 0.001


def test_chisquare_expects_the_reference_counts_scaled_to_the_current_size() -> None:
    ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    cur = ["a"] * 10 + ["b"] * 20 + ["c"] * 10
    score = stattests.chisquare(cat(ref), cat(cur))
    expected = stats.chisquare([10, 20, 10], [50 * 0.4, 30 * 0.4, 20 * 0.4]).pvalue
    assert score.value == pytest.approx(expected, rel=1e-12)
    # A category never seen in training expects 0 rows: drift, never "no drift".
    new = stattests.chisquare(cat(ref), cat([*cur, "d"]))
    assert stattests.REGISTRY["chisquare"].drifted(new.value, 0.05)


def test_z_test_compares_the_share_of_the_first_value() -> None:
    ref, cur = ["x"] * 70 + ["y"] * 30, ["x"] * 40 + ["y"] * 60
    p1, p2 = 0.3, 0.6
    pooled = (30 + 60) / 200
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert stattests.z(cat(ref), cat(cur)).value == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))))
    assert stattests.z(cat(["x"] * 5), cat(["x"] * 9)).value == 1.0


def test_jensenshannon_and_psi_on_categories_and_sturges_bins() -> None:
    ref, cur = ["a"] * 60 + ["b"] * 40, ["a"] * 30 + ["b"] * 50 + ["c"] * 20
    keys = ["a", "b", "c"]
    r = np.array([60, 40, 0]) / 100
    c = np.array([30, 50, 20]) / 100
    js = stattests.jensenshannon(cat(ref), cat(cur)).value
    assert js == pytest.approx(distance.jensenshannon(r, c), rel=1e-12)
    r_filled = np.where(r == 0, 0.0001, r)
    assert stattests.psi(cat(ref), cat(cur)).value == pytest.approx(
        np.sum((r_filled - c) * np.log(r_filled / c)), rel=1e-12
    )
    assert len(keys) == 3
    a, b = RNG.normal(0, 1, 2000), RNG.normal(0.2, 1, 1000)
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    ra, rb = np.histogram(a, edges)[0] / 2000, np.histogram(b, edges)[0] / 1000
    assert stattests.jensenshannon(num(a), num(b)).value == pytest.approx(
        distance.jensenshannon(ra, rb), rel=1e-12
    )


@pytest.mark.parametrize(
    ("ref_rows", "kind", "values", "expected"),
    [
        (1000, NUM, 50, "ks"),
        (1000, NUM, 4, "chisquare"),
        (1000, NUM, 2, "z"),
        (1000, CAT, 3, "chisquare"),
        (1000, CAT, 2, "z"),
        (1001, NUM, 50, "wasserstein"),
        (1001, NUM, 5, "jensenshannon"),
        (1001, CAT, 40, "jensenshannon"),
    ],
)
def test_the_default_test_is_chosen_as_evidently_chooses_it(
    ref_rows: int, kind: str, values: int, expected: str
) -> None:
    ref = np.arange(ref_rows) % values
    cur = np.arange(100) % values
    make = num if kind == NUM else (lambda v: cat(v.astype(str)))
    assert stattests.default_test(make(ref), make(cur)).name == expected


def test_the_quantile_profile_stays_within_its_error_bound_of_the_raw_statistic() -> None:
    frame = pd.DataFrame(
        {
            "normal": RNG.normal(3, 2, 50_000),
            "skewed": RNG.lognormal(0, 1, 50_000),
            "few": RNG.integers(0, 7, 50_000),
        }
    )
    built = profile.Profile.from_bytes(profile.build(frame, None).to_bytes(), "test")
    raw = profile.build(frame, None, summarise=False)
    for name, shift in (("normal", 0.05), ("skewed", 0.2)):
        cur = num(frame[name].to_numpy()[:5000] + shift)
        column = built.columns[name]
        assert column.quantiles is not None and column.values is None
        approx = stattests.wasserstein(column.sample(), cur)
        exact = stattests.wasserstein(raw.columns[name].sample(), cur)
        assert approx.approximate and not exact.approximate
        # The bound the profile states, measured when it was built, holds...
        assert abs(approx.value - exact.value) <= column.error + 1e-12
        # ...and is small: far below the 0.1 threshold.
        assert column.error < 0.01
        ks_approx = stattests.ks(column.sample(), cur)
        ks_exact = stattests.ks(raw.columns[name].sample(), cur)
        assert (ks_approx.value <= 0.05) == (ks_exact.value <= 0.05)
    # Few distinct values are counted: exact, not approximated.
    few = built.columns["few"]
    assert few.counts is not None and few.quantiles is None
    cur = num(frame["few"].to_numpy()[:3000])
    assert stattests.jensenshannon(few.sample(), cur).value == pytest.approx(
        stattests.jensenshannon(raw.columns["few"].sample(), cur).value, abs=1e-15
    )


def test_the_profile_is_deterministic() -> None:
    frame = pd.DataFrame({"x": RNG.normal(0, 1, 3000), "c": RNG.choice(["a", "b"], 3000)})
    one = profile.build(frame, None, frozenset({"c"})).to_bytes()
    two = profile.build(frame.copy(), None, frozenset({"c"})).to_bytes()
    assert one == two
    again = profile.Profile.from_bytes(one, "test")
    assert again.to_bytes() == one and list(again.columns) == ["x", "c"]


def test_configured_tests_thresholds_and_share() -> None:
    config = parse(
        "[tool.tether.monitor]\nreference = 'a.csv'\ndrift_share = 0.25\n"
        "columns.x = { test = 'psi', threshold = 0.3 }\n"
    )
    assert config.columns == {"x": ColumnRule("psi", 0.3)} and config.drift_share == 0.25
    frame = pd.DataFrame({"x": RNG.normal(0, 1, 500)})
    report = drift.compare(profile.build(frame, None), frame + 0.5, config)
    assert report.columns[0].test == "psi" and report.columns[0].threshold == 0.3
    with pytest.raises(ConfigError, match="unknown test 'nope'"):
        parse("[tool.tether.monitor]\ncolumns.x = { test = 'nope' }\n")
    colours = pd.DataFrame({"x": RNG.choice(["red", "blue"], 100)})
    with pytest.raises(ConfigError, match="does not apply to categories"):
        rules = MonitorConfig(columns={"x": ColumnRule("wasserstein")})
        drift.compare(profile.build(colours, None), colours, rules)


def test_params_keys_are_read_through_recorded_prefixes() -> None:
    params = {"params.yaml": {"dataset.target": "y", "dataset.features": {"categorical": ["c"]}}}
    assert param(params, "dataset.target") == "y"
    assert param(params, "dataset.features.categorical") == ["c"]
    assert param(params, "dataset.nothing") is None
