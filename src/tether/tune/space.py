"""The search space, written in the Hydra sweep grammar users already type after
``dvc exp run -S``, parsed by Hydra's own override parser and mapped to Optuna
distributions.

    model=logistic_regression,random_forest      a choice (grid, random, TPE)
    model.params.C=range(0.1,1,0.3)              a range: stop excluded (grid, random, TPE)
    model.params.C=choice(0.1,0.5)               a choice
    model.params.C=interval(0.001,1)             a float interval (random, TPE)
    model.params.C=tag(log, interval(0.001,1))   sampled on a log scale
    model.params.max_iter=tag(int, interval(100,1000))
    seed=7                                       fixed in every trial
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tether.errors import UsageError

SAMPLERS = ("grid", "random", "tpe")
GRAMMAR_HINT = (
    "Write the sweep as DVC's `exp run -S` takes it: key=a,b  key=choice(a,b)  "
    "key=range(start,stop,step)  key=interval(low,high)  key=tag(log, interval(low,high))."
)
# Validating every point of a large grid would compose it that many times.
VALIDATE_ALL_UP_TO = 256


@dataclass(frozen=True)
class Dimension:
    """One swept override: ``name`` as written left of ``=`` (``+key`` included)."""

    name: str
    kind: str  # "choice", "int", "float"
    choices: tuple[str, ...] = ()  # for "choice" (and the grid points of a range)
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False

    @property
    def grid(self) -> tuple[str, ...] | None:
        """The values a grid walks through, None for an interval."""
        return self.choices or None

    def render(self, value: Any) -> str:
        """The override string for one sampled ``value``."""
        if self.kind == "choice":
            return f"{self.name}={value}"
        if self.kind == "int":
            return f"{self.name}={int(value)}"
        return f"{self.name}={_float(float(value))}"

    def distribution(self) -> Any:
        """The Optuna distribution this dimension samples from."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def edges(self) -> tuple[str, ...]:
        """Values that stand for the whole dimension when checking overrides."""
        if self.choices:
            return self.choices
        return (self.render(self.low).split("=", 1)[1], self.render(self.high).split("=", 1)[1])


@dataclass(frozen=True)
class Space:
    """What a sweep varies (``dimensions``) and what it holds fixed (``fixed``)."""

    sweep: tuple[str, ...]  # as the user wrote it
    fixed: tuple[str, ...]
    dimensions: tuple[Dimension, ...]

    def overrides(self, params: dict[str, Any]) -> list[str]:
        """A trial's overrides, in the order the sweep names them."""
        return [*self.fixed, *(d.render(params[d.name]) for d in self.dimensions)]

    def distributions(self) -> dict[str, Any]:
        return {d.name: d.distribution() for d in self.dimensions}

    def grid(self) -> list[dict[str, str]]:
        """Every grid point, in the order of the sweep (last dimension fastest)."""
        missing = [d.name for d in self.dimensions if d.grid is None]
        if missing:
            raise UsageError(
                f"{', '.join(missing)}: an interval has no grid points",
                "Give choice(...) or range(...) values for a grid, or search the interval "
                "with --sampler random or --sampler tpe.",
            )
        names = [d.name for d in self.dimensions]
        grids = [d.grid or () for d in self.dimensions]
        return [dict(zip(names, point, strict=True)) for point in itertools.product(*grids)]

    def probes(self) -> Iterator[list[str]]:
        """Override lists that cover what a trial may be given: every grid point of a
        small grid, else every value (or interval edge) of each dimension with the
        others at their first, and every combination of the choices."""
        edges = [d.edges() for d in self.dimensions]
        total = 1
        for values in edges:
            total *= len(values)
        names = [d.name for d in self.dimensions]
        seen: set[tuple[str, ...]] = set()
        if total <= VALIDATE_ALL_UP_TO:
            combos: Iterator[tuple[str, ...]] = itertools.product(*edges)
        else:
            combos = (
                tuple(value if j == i else edges[j][0] for j in range(len(edges)))
                for i in range(len(edges))
                for value in edges[i]
            )
        for combo in combos:
            if combo in seen:
                continue
            seen.add(combo)
            yield [*self.fixed, *(f"{n}={v}" for n, v in zip(names, combo, strict=True))]


def _float(value: float) -> str:
    """A float as an override value: short (no 0.060000000000000005), never an int."""
    text = repr(round(value, 12))
    return text if any(c in text for c in ".eE") or "inf" in text or "nan" in text else text + ".0"


def parse(sweep: Sequence[str], sampler: str) -> Space:
    """Parse ``sweep`` with Hydra's override parser. UsageError names what is wrong."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    if sampler not in SAMPLERS:
        raise UsageError(f"unknown sampler {sampler!r}", f"Choose one of: {', '.join(SAMPLERS)}.")
    if not sweep:
        raise UsageError("no sweep given", GRAMMAR_HINT)
    parser = OverridesParser.create()
    fixed: list[str] = []
    dimensions: list[Dimension] = []
    seen: set[str] = set()
    for text in sweep:
        try:
            [override] = parser.parse_overrides([text])
        except HydraException as exc:
            raise UsageError(f"malformed sweep {text!r}: {exc}", GRAMMAR_HINT) from None
        if override.key_or_group in seen:
            raise UsageError(f"{override.key_or_group} is swept twice", GRAMMAR_HINT)
        seen.add(override.key_or_group)
        if override.is_sweep_override():
            dimensions.append(_dimension(override, text, sampler))
        else:
            fixed.append(text)
    if not dimensions:
        raise UsageError(
            "the sweep varies nothing: every override has a single value",
            "Give at least one key several values, e.g. model.params.C=0.1,1,10.",
        )
    return Space(tuple(sweep), tuple(fixed), tuple(dimensions))


def _dimension(override: Any, text: str, sampler: str) -> Dimension:
    """One swept override (``text``, parsed by Hydra) as a Dimension."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    name = override.get_key_element()
    value = override.value()
    tags = set(getattr(value, "tags", ()) or ())
    unknown = tags - {"log", "int"}
    if unknown:
        raise UsageError(
            f"{text}: unknown tag {', '.join(sorted(unknown))}",
            "tether reads the tags `log` and `int`: tag(log, interval(0.001, 1)).",
        )
    if isinstance(value, IntervalSweep):
        return _interval(name, text, value, tags, sampler)
    if tags:
        raise UsageError(f"{text}: tags apply to interval(...) only", GRAMMAR_HINT)
    if isinstance(value, ChoiceSweep):
        choices = tuple(dict.fromkeys(override.sweep_string_iterator()))
        return Dimension(name, "choice", choices)
    if isinstance(value, RangeSweep):
        return _range(name, text, value)
    raise UsageError(f"{text}: unsupported sweep", GRAMMAR_HINT)  # pragma: no cover


def _interval(name: str, text: str, value: Any, tags: set[str], sampler: str) -> Dimension:
    if sampler == "grid":
        raise UsageError(
            f"{text}: an interval has no grid points",
            "Search an interval with --sampler random or --sampler tpe, or give "
            "range(...) or choice(...) values for a grid.",
        )
    low, high = float(value.start or 0.0), float(value.end or 0.0)
    if not low < high:
        raise UsageError(f"{text}: the interval is empty", "Write interval(low,high), low < high.")
    if "log" in tags and low <= 0:
        raise UsageError(f"{text}: a log scale needs a low bound above 0", GRAMMAR_HINT)
    kind = "int" if "int" in tags else "float"
    return Dimension(name, kind, low=low, high=high, log="log" in tags)


def _range(name: str, text: str, value: Any) -> Dimension:
    start, stop, step = value.start, value.stop, value.step
    if not step or (stop - start) / step <= 0:
        raise UsageError(
            f"{text}: the range is empty", "Write range(start,stop,step); stop is excluded."
        )
    count = 0
    while (start + count * step < stop) if step > 0 else (start + count * step > stop):
        count += 1
    points = [start + i * step for i in range(count)]
    if all(isinstance(x, int) for x in (start, stop, step)):
        values = tuple(str(int(p)) for p in points)
        low, high = min(points), max(points)
        return Dimension(name, "int", values, low=low, high=high, step=abs(step))
    values = tuple(_float(float(p)) for p in points)
    low, high = float(min(points)), float(max(points))
    return Dimension(name, "float", values, low=low, high=high, step=abs(float(step)))
