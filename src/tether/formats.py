"""Metric and params files read the way DVC reads them, from bytes, and their values.

DVC picks the parser by extension (``.json``, ``.toml``, anything else YAML) and
reads YAML with ruamel's YAML 1.2 safe loader; tether's one YAML 1.2 loader is
``tether.yaml12.load_yaml``. ``flatten`` turns a parsed file into the
``{dotted key: value}`` rows every comparison (diff, history, verify) is made of.
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

from tether.errors import InvalidYaml
from tether.yaml12 import load_yaml


class FormatError(ValueError):
    """A file that could not be parsed; the message says why."""


# Deeper than any metrics or params file needs; the readers below recurse, and a file
# from an untrusted branch must not be able to exhaust Python's stack.
MAX_DEPTH = 100


def parse(path: str, data: bytes) -> Any:
    """The content of ``path`` parsed by its extension, as DVC would read it.

    Raises FormatError with a short reason when the bytes do not parse, or when
    they nest deeper than MAX_DEPTH levels.
    """
    suffix = path.rsplit("/", 1)[-1]
    suffix = suffix[suffix.rfind(".") :].lower() if "." in suffix else ""
    try:
        value = _parse(suffix, path, data)
    except FormatError:
        raise
    except InvalidYaml as exc:
        raise FormatError(f"not valid YAML: {exc.reason}") from None
    except RecursionError:
        raise FormatError(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"not valid {suffix.lstrip('.').upper() or 'YAML'}: {reason}") from None
    if _deeper_than(value, MAX_DEPTH):
        raise FormatError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _parse(suffix: str, path: str, data: bytes) -> Any:
    if suffix == ".json":
        return json.loads(data) or {}
    if suffix == ".toml":
        return tomllib.loads(data.decode("utf-8"))
    if suffix == ".py":
        raise FormatError("Python params files are not supported by tether")
    return load_yaml(data, path) or {}


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether mappings and lists in ``value`` nest more than ``limit`` levels
    (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


# -- values ---------------------------------------------------------------------


def extract_metrics(value: Any) -> Any:
    """DVC's metric filter: numbers, strings and booleans, nested in mappings."""
    if isinstance(value, int | float | str):
        return value
    if not isinstance(value, dict):
        return None
    kept = {}
    for key, sub in value.items():
        sub = extract_metrics(sub)
        if sub not in (None, {}):
            kept[key] = sub
    return kept


def select_keys(config: Any, keys: list[str]) -> dict[str, Any]:
    """The parts of ``config`` that the dotted ``keys`` name, nested as in the file
    (what ``dpath.search`` returns for DVC); keys not present are left out."""
    selected: dict[str, Any] = {}
    for key in keys:
        node: Any = config
        parts = key.split(".")
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            target = selected
            for part in parts[:-1]:
                nxt = target.setdefault(part, {})
                if not isinstance(nxt, dict):
                    break
                target = nxt
            else:
                target[parts[-1]] = node
    return selected


class DuplicateKey(ValueError):
    pass


def flatten(value: Any) -> dict[str, Any]:
    """``{dotted key: value}``; lists become their Python text, as DVC shows them.

    A file whose top level is a single value gives the key ``""``, as in DVC. A key
    that appears both nested and dotted raises DuplicateKey.
    """
    if not isinstance(value, dict):
        return {"": _leaf(value)} if value not in (None, {}) else {}
    flat: dict[str, Any] = {}

    def walk(node: dict[Any, Any], prefix: str) -> None:
        for key, sub in node.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(sub, dict):
                walk(sub, name)
                continue
            if name in flat:
                raise DuplicateKey(name)
            flat[name] = _leaf(sub)

    walk(value, "")
    return flat


def _leaf(value: Any) -> Any:
    if isinstance(value, list):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # dates and other YAML scalars


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
