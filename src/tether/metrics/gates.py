"""CI gates on metric changes: the rule grammar, directions and verdicts.

A rule is ``METRIC OP BOUND[%]``:

    f1<-0.01         fails when f1 changes by less than -0.01 (drops by more than 0.01)
    loss>5%          fails when loss rises by more than 5% of its old value
    eval/m.json:auc<0   the key ``auc`` of one file, when several files have it

OP is ``<`` or ``>`` (``<=``/``>=`` also accepted); the bound is a number, with
``%`` meaning a percentage of ``|old|``. METRIC is the dotted key as the table
shows it, with ``path:`` in front when two files share the key. A metric missing
at either revision, or not a number there, breaches its gate: a gate that cannot be
checked does not pass.

Defaults come from ``[tool.tether]`` in the repository's pyproject.toml:

    [tool.tether]
    fail_on = ["f1<-0.01", "loss>5%"]
    lower_is_better = ["loss"]
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.errors import ConfigError, UsageError
from tether.metrics.diff import METRICS, MetricsDiff, Row, fmt_value, numeric


def _shown(value: Any) -> str:
    """A value in a verdict line: as the diff table shows it, "missing" for none."""
    return "missing" if value is None else fmt_value(value)


_RULE = re.compile(
    r"^(?P<metric>[^<>]+?)\s*(?P<op><=|>=|<|>)\s*(?P<bound>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<pct>%)?$"
)


@dataclass(frozen=True)
class Rule:
    """One gate: fail when ``change OP bound`` (bound in % of ``|old|`` if ``percent``)."""

    metric: str
    op: str
    bound: float
    percent: bool
    text: str

    def breached_by(self, old: float, new: float) -> bool:
        change = new - old
        if self.percent:
            if old == 0:
                # Any change is infinitely many percent of zero.
                limit = 0.0
                return (change < limit) if self.op.startswith("<") else (change > limit)
            change = change / abs(old) * 100
        if math.isnan(change):
            return True
        return {
            "<": change < self.bound,
            "<=": change <= self.bound,
            ">": change > self.bound,
            ">=": change >= self.bound,
        }[self.op]


def parse_rule(text: str) -> Rule:
    match = _RULE.match(text.strip())
    if not match:
        raise UsageError(
            f"cannot read gate rule {text!r}",
            "Write METRIC<BOUND or METRIC>BOUND, the bound a number or a percentage: "
            "`f1<-0.01`, `loss>5%`; one rule per --fail-on.",
        )
    return Rule(
        metric=match["metric"].strip(),
        op=match["op"],
        bound=float(match["bound"]),
        percent=bool(match["pct"]),
        text=text.strip(),
    )


@dataclass(frozen=True)
class GateConfig:
    """Gates and directions configured for a repository."""

    fail_on: tuple[str, ...] = ()
    lower_is_better: tuple[str, ...] = ()


def load_config(root: Path) -> GateConfig:
    """``[tool.tether]`` of ``root/pyproject.toml``; empty when absent."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return GateConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"pyproject.toml is not valid TOML: {exc}") from None
    section = data.get("tool", {}).get("tether", {})

    def strings(key: str) -> tuple[str, ...]:
        value = section.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"[tool.tether] {key} in pyproject.toml must be a list of strings")
        return tuple(value)

    return GateConfig(fail_on=strings("fail_on"), lower_is_better=strings("lower_is_better"))


@dataclass(frozen=True)
class Verdict:
    """The outcome of one rule on one diff."""

    rule: str
    metric: str
    old: Any
    new: Any
    passed: bool
    lower_is_better: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "metric": self.metric,
            "old": self.old,
            "new": self.new,
            "passed": self.passed,
            "message": self.message,
        }


def find_row(diff: MetricsDiff, metric: str) -> Row | None:
    """The metric row a rule's METRIC names: ``key`` or ``path:key``.

    Raises UsageError when a bare key is in several files.
    """
    rows = [r for r in diff.rows if r.kind == METRICS]
    exact = [r for r in rows if f"{r.path}:{r.key}" == metric]
    if exact:
        return exact[0]
    matches = [r for r in rows if r.key == metric]
    if len(matches) > 1:
        paths = ", ".join(sorted(r.path for r in matches))
        raise UsageError(
            f"metric {metric!r} is in several files ({paths})",
            f"Prefix it with the file: `{matches[0].path}:{metric}`.",
        )
    return matches[0] if matches else None


def is_lower_better(row_or_name: Row | str, lower_is_better: tuple[str, ...] | list[str]) -> bool:
    if isinstance(row_or_name, Row):
        return (
            row_or_name.key in lower_is_better
            or f"{row_or_name.path}:{row_or_name.key}" in lower_is_better
        )
    return row_or_name in lower_is_better


def evaluate_gates(
    diff: MetricsDiff,
    rules: list[str] | tuple[str, ...],
    lower_is_better: tuple[str, ...] | list[str] = (),
) -> list[Verdict]:
    """One verdict per rule; a rule naming a metric that is missing, or not a number,
    at either revision fails."""
    verdicts = []
    for text in rules:
        rule = parse_rule(text)
        row = find_row(diff, rule.metric)
        lower = is_lower_better(row if row is not None else rule.metric, lower_is_better)
        if row is None or not numeric(row.old) or not numeric(row.new):
            old = row.old if row else None
            new = row.new if row else None
            where = diff.a if not numeric(old) else diff.b
            verdicts.append(
                Verdict(
                    rule.text,
                    rule.metric,
                    old,
                    new,
                    False,
                    lower,
                    f"FAIL {rule.metric}: no number at {where} ({_shown(old)} -> {_shown(new)}), "
                    f"so gate `{rule.text}` cannot pass",
                )
            )
            continue
        breached = rule.breached_by(float(row.old), float(row.new))
        change = row.change or 0
        if change == 0:
            moved = "unchanged"
        else:
            better = (change < 0) == lower
            moved = f"{'improved' if better else 'worsened'} by {_shown(abs(change))}"
            if row.relative is not None:
                moved += f" ({abs(row.relative) * 100:.3g}%)"
        status = "FAIL" if breached else "ok"
        verdicts.append(
            Verdict(
                rule.text,
                rule.metric,
                row.old,
                row.new,
                not breached,
                lower,
                f"{status} {rule.metric} {moved}: {_shown(row.old)} -> {_shown(row.new)}, gate `{rule.text}`",
            )
        )
    return verdicts
