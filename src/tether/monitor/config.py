"""``[tool.tether.monitor]`` in pyproject.toml: what a release is monitored against.

    [tool.tether.monitor]
    reference = "data/prepared/train.csv"      # the training data: the train stage's input
    prediction_reference = "data/prepared/test.csv"  # held-out rows the predictions are
                                               # profiled on (default: the training rows)
    target_param = "dataset.target"            # the params key naming the label column
    categorical_param = "dataset.features.categorical"
    threshold_param = "evaluate.threshold"     # the decision threshold the metrics used
    drift_share = 0.5                          # dataset drift: this share of columns drifts
    columns."mean radius" = { test = "psi", threshold = 0.2 }

``target`` and ``categorical`` name columns directly instead of through params.
``prediction_reference``: a model that fits its training rows closely (a random
forest) is more confident on them than on any new data, so predictions profiled on
the training rows make every batch look drifted; profile them on held-out rows.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.errors import ConfigError
from tether.monitor.stattests import REGISTRY

SECTION = "[tool.tether.monitor]"


@dataclass(frozen=True)
class ColumnRule:
    test: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class MonitorConfig:
    reference: str | None = None
    prediction_reference: str | None = None  # held-out rows for the predictions' profile
    target: str | None = None
    target_param: str | None = None
    categorical: tuple[str, ...] = ()
    categorical_param: str | None = None
    threshold_param: str | None = None
    drift_share: float = 0.5
    columns: dict[str, ColumnRule] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return self.reference is not None


def _string(section: dict[str, Any], key: str) -> str | None:
    value = section.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{SECTION} {key} in pyproject.toml must be a string")
    return value


def parse(text: str) -> MonitorConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"pyproject.toml is not valid TOML: {exc}") from None
    section = data.get("tool", {}).get("tether", {}).get("monitor", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{SECTION} in pyproject.toml must be a table")
    share = section.get("drift_share", 0.5)
    if not isinstance(share, int | float) or not 0 < share <= 1:
        raise ConfigError(f"{SECTION} drift_share must be a number in (0, 1], got {share!r}")
    categorical = section.get("categorical", [])
    if not isinstance(categorical, list) or not all(isinstance(c, str) for c in categorical):
        raise ConfigError(f"{SECTION} categorical must be a list of column names")
    columns: dict[str, ColumnRule] = {}
    for name, rule in (section.get("columns") or {}).items():
        if not isinstance(rule, dict) or set(rule) - {"test", "threshold"}:
            raise ConfigError(
                f"{SECTION} columns.{name!r} must be a table of `test` and `threshold`",
                f'Write it as columns."{name}" = {{ test = "psi", threshold = 0.2 }}.',
            )
        threshold = rule.get("threshold")
        if threshold is not None and not isinstance(threshold, int | float):
            raise ConfigError(f"{SECTION} columns.{name!r}.threshold must be a number")
        test = rule.get("test")
        if test is not None and test not in REGISTRY:
            raise ConfigError(
                f"{SECTION} columns.{name!r} names an unknown test {test!r}",
                f"Choose one of: {', '.join(sorted(REGISTRY))}.",
            )
        columns[str(name)] = ColumnRule(test, None if threshold is None else float(threshold))
    return MonitorConfig(
        reference=_string(section, "reference"),
        prediction_reference=_string(section, "prediction_reference"),
        target=_string(section, "target"),
        target_param=_string(section, "target_param"),
        categorical=tuple(categorical),
        categorical_param=_string(section, "categorical_param"),
        threshold_param=_string(section, "threshold_param"),
        drift_share=float(share),
        columns=columns,
    )


def load(root: Path) -> MonitorConfig:
    path = root / "pyproject.toml"
    if not path.is_file():
        return MonitorConfig()
    return parse(path.read_text(encoding="utf-8"))


def param(params: dict[str, Any], dotted: str) -> Any:
    """The value of a dotted params key in a manifest's ``params`` ({file: {key:
    value}}), where the recorded key may be a prefix (``dataset.features``) of the
    one asked for (``dataset.features.categorical``). None when absent."""
    parts = dotted.split(".")
    for values in params.values():
        if not isinstance(values, dict):
            continue
        if dotted in values:
            return values[dotted]
        for cut in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:cut])
            node = _walk(values[head], parts[cut:]) if head in values else None
            if node is not None:
                return node
        node = _walk(values, parts)  # a nested file ({dataset: {target: ...}})
        if node is not None:
            return node
    return None


def _walk(node: Any, parts: list[str]) -> Any:
    """``node[parts[0]][parts[1]]...``; None where a part is missing."""
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
