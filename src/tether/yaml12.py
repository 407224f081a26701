"""tether's YAML reader: YAML 1.2 as DVC reads it, with caps on what a file may cost.

``load_yaml`` is PyYAML's C loader (fast enough for ``tether history`` to parse
hundreds of locks) with the YAML 1.2 core-schema scalar rules DVC's ruamel loader
follows. PyYAML implements YAML 1.1, where ``1e-3`` is a string and ``yes``/``on``
are booleans; the loader ``loader()`` builds swaps in YAML 1.2's rules for
booleans, nulls, integers and floats, so values come out as DVC sees them.
``load_strings`` keeps every scalar a string (for files whose values are all names,
as GTO's ``.gto``).
A file larger than ``MAX_YAML_BYTES``, or whose aliases expand beyond
``MAX_YAML_NODES`` nodes (a "billion laughs" document on an untrusted branch), is
refused by both.

PyYAML is imported on the first file read, not with this module: importing it and
setting up the loader costs about 10 ms of start-up that commands reading no YAML
(``tether show`` in a project without a ``.gto`` file) need not pay.

Every YAML file tether reads goes through here: DVC's files (``tether.dvcfiles``),
params and metrics files (``tether.formats``), the registry's ``.gto`` and
artifacts index, tether's own overrides.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from tether.errors import InvalidYaml

# Caps on what one YAML file may cost to read: DVC's own files, metrics and params
# files are kilobytes to a few megabytes.
MAX_YAML_BYTES = 64 * 1024 * 1024
MAX_YAML_NODES = 1_000_000

# --- the YAML 1.2 loader ---------------------------------------------------------

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
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


@functools.cache
def _yaml() -> Any:
    """PyYAML, imported on first use (see the module's docstring)."""
    import yaml

    return yaml


@functools.cache
def loader() -> Any:
    """PyYAML's C safe loader with YAML 1.2 core-schema scalar resolution."""
    yaml = _yaml()
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    yaml12: Any = type("Yaml12Loader", (base,), {"__doc__": loader.__doc__})
    yaml12.yaml_implicit_resolvers = {}
    for tag, pattern, first in _RESOLVERS:
        yaml12.add_implicit_resolver(tag, re.compile(pattern), first)
    # Dates stay as YAML 1.1 defines them (ruamel resolves them too).
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items():
        for tag, regexp in rules:
            if tag == _TIMESTAMP:
                yaml12.add_implicit_resolver(tag, regexp, [first])
    yaml12.add_constructor("tag:yaml.org,2002:int", _construct_int)
    yaml12.add_constructor("tag:yaml.org,2002:float", _construct_float)
    yaml12.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
    return yaml12


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


def _expanded_nodes(node: Any, sizes: dict[int, int], open_: set[int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:  # an alias to one of its own ancestors: expands forever
        return MAX_YAML_NODES + 1
    open_.add(key)
    total = 1
    # PyYAML's node classes name their kind in ``id``: no lookup of the lazily
    # imported module for each of up to MAX_YAML_NODES nodes.
    if node.id == "mapping":
        for k, v in node.value:
            total += _expanded_nodes(k, sizes, open_) + _expanded_nodes(v, sizes, open_)
            if total > MAX_YAML_NODES:
                break
    elif node.id == "sequence":
        for item in node.value:
            total += _expanded_nodes(item, sizes, open_)
            if total > MAX_YAML_NODES:
                break
    open_.discard(key)
    sizes[key] = total
    return total


# --- the fast path: documents of plain mappings, lists and scalars ----------------
#
# dvc.lock files are read by the hundred (`tether history` over 500 releases), and
# PyYAML spends most of a load in Python: resolving every scalar's tag through its
# resolver tables while composing, then constructing node by node. A lock is only
# mappings, lists and untagged scalars, so the fast path builds values straight
# from the C parser's events and resolves plain scalars with the same YAML 1.2
# rules in one step. Anything else (an explicit tag, an anchor or alias, a
# timestamp, a mapping or list as a key, several documents, a syntax error) raises
# _Unusual and the document goes through the full loader(), so both paths give the
# same values and errors.

_INT_RE = re.compile(_RESOLVERS[2][1])
_FLOAT_RE = re.compile(_RESOLVERS[3][1])
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_BOOLS["FALSE"] = False
_NULLS = frozenset(("~", "null", "Null", "NULL", ""))


@functools.cache
def _timestamp_re() -> Any:
    """PyYAML's own pattern for a YAML 1.1 date, which both paths keep."""
    return next(
        regexp
        for rules in _yaml().SafeLoader.yaml_implicit_resolvers.values()
        for tag, regexp in rules
        if tag == _TIMESTAMP
    )


_NOT_YET = object()  # a mapping waiting for its next key


class _Unusual(Exception):
    """The document needs PyYAML's full loader."""


def _int_text(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text.replace("_", ""))


def _float_text(text: str) -> float:
    text = text.lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _plain_scalar(text: str) -> Any:
    """A plain (unquoted, untagged) scalar, resolved as loader() resolves it."""
    first = text[:1]
    if first and first in "-+0123456789.":
        if _INT_RE.match(text):
            return _int_text(text)
        if _FLOAT_RE.match(text):
            return _float_text(text)
        if _timestamp_re().match(text):
            raise _Unusual
        return text
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _NULLS:
        return None
    return text


def _scalar_value(event: Any) -> Any:
    if event.anchor is not None:
        raise _Unusual
    plain, quoted = event.implicit
    if plain:
        return _plain_scalar(event.value)
    if quoted:
        return event.value
    raise _Unusual  # an explicit tag


class _Builder:
    """Mappings and lists assembled as their events arrive."""

    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.keys: list[Any] = []
        self.root: Any = None

    def open(self, event: Any, container: dict[Any, Any] | list[Any]) -> None:
        if event.anchor is not None or not event.implicit:
            raise _Unusual
        self.stack.append(container)
        self.keys.append(_NOT_YET)

    def close(self) -> None:
        self.keys.pop()
        self.add(self.stack.pop())

    def add(self, value: Any) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if type(top) is list:
            top.append(value)
        elif self.keys[-1] is _NOT_YET:
            if isinstance(value, dict | list):
                raise _Unusual  # a key PyYAML refuses, with its own message
            self.keys[-1] = value
        else:
            top[self.keys[-1]] = value
            self.keys[-1] = _NOT_YET


def _load_plain(data: bytes | str) -> Any:
    """The document's values built from the C parser's events (see above)."""
    yaml = _yaml()
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    built = _Builder()
    documents = 0
    event: Any
    try:
        for event in yaml.parse(data, Loader=yaml.CBaseLoader):
            kind = type(event)
            if kind is yaml.ScalarEvent:
                built.add(_scalar_value(event))
            elif kind is yaml.MappingStartEvent:
                built.open(event, {})
            elif kind is yaml.SequenceStartEvent:
                built.open(event, [])
            elif kind in ends:
                built.close()
            elif kind is yaml.AliasEvent:
                raise _Unusual
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Unusual
    except yaml.YAMLError:
        raise _Unusual from None
    return built.root


def load_yaml(data: bytes | str, path: str) -> Any:
    """YAML 1.2 text to Python values, scalars read as DVC's ruamel reads them.

    Raises InvalidYaml (a ConfigError) naming ``path`` when the text does not parse
    or is over the caps on size and alias expansion.
    """
    if len(data) > MAX_YAML_BYTES:
        raise InvalidYaml(path, f"larger than {MAX_YAML_BYTES} bytes")
    yaml = _yaml()
    try:
        # Aliases need an anchor (&) and a star (*); files without both cannot
        # expand, and take the fast path straight to the C loader.
        has_alias = (
            ("&" in data and "*" in data)
            if isinstance(data, str)
            else (b"&" in data and b"*" in data)
        )
        if not has_alias:
            try:
                return _load_plain(data)
            except _Unusual:
                return yaml.load(data, Loader=loader())
        return _counted_load(loader()(data), path)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidYaml(path, reason) from None


def load_strings(data: bytes | str, path: str) -> Any:
    """YAML text to nested lists and mappings of strings (PyYAML's BaseLoader: no
    scalar is ever a boolean or a number), under the same caps as ``load_yaml``."""
    if len(data) > MAX_YAML_BYTES:
        raise InvalidYaml(path, f"larger than {MAX_YAML_BYTES} bytes")
    yaml = _yaml()
    try:
        return _counted_load(yaml.BaseLoader(data), path)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidYaml(path, reason) from None


def _counted_load(loader: Any, path: str) -> Any:
    """yaml.load's own two steps (compose, construct), with the nodes the aliases
    expand to counted in between: an alias bomb is refused before it is built."""
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_nodes(root, {}, set()) > MAX_YAML_NODES:
            raise InvalidYaml(path, f"its aliases expand to over {MAX_YAML_NODES} values")
        return loader.construct_document(root)
    finally:
        loader.dispose()
