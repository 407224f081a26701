"""Parsing metric and params files the way DVC does, from bytes.

DVC picks the parser by extension (``.json``, ``.toml``, anything else YAML) and
reads YAML with ruamel's YAML 1.2 safe loader; tether's one YAML 1.2 loader is
``tether.dvcfiles.load_yaml``.
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

from tether.dvcfiles import load_yaml
from tether.errors import InvalidYaml


class FormatError(ValueError):
    """A file that could not be parsed; the message says why."""


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
        return load_yaml(data, path) or {}
    except FormatError:
        raise
    except InvalidYaml as exc:
        raise FormatError(f"not valid YAML: {exc.reason}") from None
    except (ValueError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
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
