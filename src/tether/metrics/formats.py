"""Parsing metric and params files the way DVC does, from bytes.

DVC picks the parser by extension (``.json``, ``.toml``, anything else YAML) and
reads YAML with ruamel's YAML 1.2 safe loader; tether's one YAML 1.2 loader is
``tether.dvcfiles.load_yaml``.
"""

from __future__ import annotations

import json
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
