"""The sweep grammar: Hydra's parser, Optuna's distributions, the grid."""

from __future__ import annotations

import pytest

from tether.errors import UsageError
from tether.tune.space import parse


def test_choice_range_and_fixed_make_a_grid_in_sweep_order() -> None:
    space = parse(
        ["model=logistic_regression,random_forest", "model.params.C=range(0.2,0.8,0.2)", "seed=7"],
        "grid",
    )
    assert space.fixed == ("seed=7",)
    assert [d.name for d in space.dimensions] == ["model", "model.params.C"]
    grid = space.grid()
    assert len(grid) == 6
    # Hydra's range gives 0.6000000000000001: the override is written short.
    assert grid[:3] == [
        {"model": "logistic_regression", "model.params.C": "0.2"},
        {"model": "logistic_regression", "model.params.C": "0.4"},
        {"model": "logistic_regression", "model.params.C": "0.6"},
    ]
    assert space.overrides(grid[5]) == ["seed=7", "model=random_forest", "model.params.C=0.6"]


def test_distributions_for_random_and_tpe() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space = parse(
        [
            "a=x,y",
            "b=range(1,10,2)",
            "c=interval(0.5,2)",
            "d=tag(log, interval(0.001,1))",
            "e=tag(int, interval(10,100))",
            "+f=choice(1,2)",
        ],
        "tpe",
    )
    dist = space.distributions()
    assert dist["a"] == CategoricalDistribution(["x", "y"])
    assert dist["b"] == IntDistribution(1, 9, step=2)
    assert dist["c"] == FloatDistribution(0.5, 2.0)
    assert dist["d"] == FloatDistribution(0.001, 1.0, log=True)
    assert dist["e"] == IntDistribution(10, 100)
    assert dist["+f"] == CategoricalDistribution(["1", "2"])
    overrides = space.overrides({"a": "y", "b": 3, "c": 0.75, "d": 0.01, "e": 42, "+f": "2"})
    assert overrides == ["a=y", "b=3", "c=0.75", "d=0.01", "e=42", "+f=2"]


@pytest.mark.parametrize(
    ("sweep", "sampler", "words"),
    [
        (["c=interval(0,1)"], "grid", "an interval has no grid points"),
        (["c=1"], "grid", "the sweep varies nothing"),
        (["c=range(1,1)"], "grid", "the range is empty"),
        (["c=tag(log, interval(0,1))"], "tpe", "a log scale needs a low bound above 0"),
        (["c=tag(fast, interval(1,2))"], "tpe", "unknown tag fast"),
        (["c=1,2", "c=3,4"], "grid", "c is swept twice"),
        (["c=(1,2"], "grid", "malformed sweep"),
        (["c=1,2"], "bayes", "unknown sampler 'bayes'"),
        ([], "grid", "no sweep given"),
    ],
)
def test_bad_sweeps_are_refused_with_words(sweep: list[str], sampler: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(sweep, sampler)
    assert words in caught.value.message
    assert caught.value.hint


def test_probes_cover_every_value_of_a_large_space() -> None:
    space = parse(["a=range(0,20)", "b=range(0,20)", "c=interval(1,2)"], "random")
    probes = list(space.probes())
    # 20*20*2 = 800 > 256: each value once with the others at their first value.
    assert len(probes) < 60
    assert ["a=19", "b=0", "c=1.0"] in probes
    assert ["a=0", "b=0", "c=2.0"] in probes


def test_tether_help_loads_neither_optuna_nor_hydra() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom tether.cli import main\n"
        "try:\n    main(['tune', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY=' + ','.join(sorted(m for m in ('optuna', 'hydra', 'dvc', 'sqlalchemy') "
        "if m in sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "show" in proc.stdout and "apply" in proc.stdout
    assert proc.stdout.strip().endswith("HEAVY=")
