"""Parsing metric and params files the way DVC does, from bytes.

DVC picks the parser by extension (``.json``, ``.toml``, anything else YAML) and
reads YAML with ruamel's YAML 1.2 safe loader. tether parses YAML with PyYAML's
C loader for speed; PyYAML implements YAML 1.1, where ``1e-3`` is a string and
``yes``/``on`` are booleans. ``Yaml12Loader`` swaps in the YAML 1.2 core-schema
rules for booleans, nulls, integers and floats, so values come out as DVC sees them.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from typing import Any

import yaml

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FormatError(ValueError):
    """A file that could not be parsed; the message says why."""


class Yaml12Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """PyYAML's C safe loader with YAML 1.2 core-schema scalar resolution."""


Yaml12Loader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        "tag:yaml.org,2002:int",
        r"^(?:[-+]?[0-9][0-9_]*|0o[0-7]+|0x[0-9a-fA-F]+)$",
        list("-+0123456789"),
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
]
for _tag, _pattern, _first in _RESOLVERS:
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
# Dates stay as YAML 1.1 defines them (ruamel resolves them too).
for _first, _rules in yaml.SafeLoader.yaml_implicit_resolvers.items():
    for _tag, _regexp in _rules:
        if _tag == "tag:yaml.org,2002:timestamp":
            Yaml12Loader.add_implicit_resolver(_tag, _regexp, [_first])


def _construct_int(loader: Any, node: Any) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text.replace("_", ""))


def _construct_float(loader: Any, node: Any) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _construct_bool(loader: Any, node: Any) -> bool:
    return loader.construct_scalar(node).lower() == "true"


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def load_yaml(data: bytes | str) -> Any:
    """YAML 1.2 text to Python values."""
    return yaml.load(data, Loader=Yaml12Loader)


def parse(path: str, data: bytes) -> Any:
    """The content of ``path`` parsed by its extension, as DVC would read it.

    Raises FormatError with a short reason when the bytes do not parse.
    """
    suffix = path.rsplit("/", 1)[-1]
    suffix = suffix[suffix.rfind(".") :].lower() if "." in suffix else ""
    try:
        if suffix == ".json":
            return json.loads(data) or {}
        if suffix == ".toml":
            return tomllib.loads(data.decode("utf-8"))
        if suffix == ".py":
            raise FormatError("Python params files are not supported by tether")
        return load_yaml(data) or {}
    except FormatError:
        raise
    except (ValueError, UnicodeDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"not valid {suffix.lstrip('.').upper() or 'YAML'}: {reason}") from None


# Strict JSON has no NaN or infinities; tether writes them as these strings
# (``diff --json``, ``verify --json``, release manifests) and reads them back.
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats replaced by strings, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_restore(value: Any) -> Any:
    """The inverse of ``json_safe``: the three strings back to floats."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, dict):
        return {k: json_restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_restore(v) for v in value]
    return value
