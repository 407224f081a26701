"""The registry's tag grammar, shared with GTO, and its parser, in one place.

    NAME@vX.Y.Z          register version vX.Y.Z (SemVer 2.0 with a ``v`` prefix)
    NAME@vX.Y.Z!         deregister it
    NAME#STAGE#N         assign STAGE to the version registered at the tag's commit
    NAME#STAGE!#N        unassign STAGE from it
    NAME@deprecated      deprecate the artifact

Every form may end in ``#N``, a counter per artifact over all its tags (the highest
one plus 1); tether writes it on stage tags, as GTO does. An artifact in a nested
``dvc.yaml`` is named ``dir/sub:name`` and written ``dir/sub=name`` in tags.

Reading accepts every tag GTO accepts, so a registry GTO wrote reads the same.
Writing is stricter: names are checked by full match before any git call, so
nothing that git could read as an option or a revision expression (``-x``, ``..``,
``@{``, spaces, newlines) ever reaches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property, total_ordering
from typing import Any

import semver

from tether.errors import UsageError


class Action(Enum):
    """What a registry tag does. Values are GTO's event names in ``history``."""

    REGISTER = "registration"
    DEREGISTER = "deregistration"
    ASSIGN = "assignment"
    UNASSIGN = "unassignment"
    DEPRECATE = "deprecation"


# GTO's priorities: the order of events of the same instant in ``gto history``.
PRIORITY = {
    Action.DEPRECATE: 2,
    Action.REGISTER: 3,
    Action.DEREGISTER: 4,
    Action.ASSIGN: 5,
    Action.UNASSIGN: 6,
}

SEPARATOR_IN_NAME = ":"
SEPARATOR_IN_TAG = "="

# --- what tether reads (GTO's grammar) -------------------------------------------

_GTO_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_GTO_DIRNAME = r"[a-zA-Z0-9\-_./]+"
# SemVer 2.0's own regular expression (semver.org), with named parts.
_SEMVER = (
    r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-(?:(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?:[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
VERSION_RE = re.compile(rf"v{_SEMVER}")
_ARTIFACT_IN_TAG = rf"(?:{_GTO_DIRNAME}{SEPARATOR_IN_TAG})?{_GTO_NAME}"

TAG_RE = re.compile(
    rf"(?P<artifact>{_ARTIFACT_IN_TAG})"
    rf"(?:(?:@(?P<version>v{_SEMVER})|#(?P<stage>{_GTO_NAME}))(?P<cancel>!?)|@(?P<deprecated>deprecated))"
    rf"(?:#(?P<counter>[0-9]+))?"
)

# --- what tether writes (stricter) -----------------------------------------------

_SEGMENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?"
_STRICT_NAME = rf"{_SEGMENT}(?:/{_SEGMENT})*"
_STRICT_DIR = rf"{_SEGMENT}(?:/{_SEGMENT})*"
NAME_RE = re.compile(rf"(?:{_STRICT_DIR}{SEPARATOR_IN_NAME})?{_STRICT_NAME}")
STAGE_RE = re.compile(_SEGMENT)

# --- registry references in revisions ------------------------------------------------

REFERENCE_RE = re.compile(
    rf"(?P<artifact>(?:{_STRICT_DIR}{SEPARATOR_IN_NAME})?{_STRICT_NAME})"
    rf"(?:@(?P<version>v{_SEMVER}|latest)|#(?P<stage>{_SEGMENT}))"
)

# Git keeps a loose tag as a file named after it, and filesystems cap a file name at
# 255 bytes: a name part of 100, a stage of 64 and a version of 128 characters leave
# room for the separators and the counter ("#1234") in every tag tether writes.
NAME_PART_MAX = 100
STAGE_MAX = 64
VERSION_MAX = 128
# Words a stage cannot be: ``NAME@latest`` and ``NAME@deprecated`` mean something
# else in a reference, and a stage so named reads as one of them in `tether show`.
RESERVED_STAGES = frozenset({"latest", "deprecated"})

NAME_RULES = (
    "letters, digits, '-', '_' and single '/' between parts, starting and ending "
    "with a letter or digit"
)


@dataclass(frozen=True)
class ParsedTag:
    """A registry tag's name, taken apart."""

    artifact: str
    action: Action
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def parse_tag(tag: str) -> ParsedTag | None:
    """The parts of a registry tag; None for any other tag. Full match only."""
    match = TAG_RE.fullmatch(tag)
    if match is None:
        return None
    artifact = match["artifact"].replace(SEPARATOR_IN_TAG, SEPARATOR_IN_NAME)
    counter = int(match["counter"]) if match["counter"] else None
    cancel = match["cancel"] == "!"
    if match["deprecated"]:
        return ParsedTag(artifact, Action.DEPRECATE, counter=counter)
    if match["version"]:
        action = Action.DEREGISTER if cancel else Action.REGISTER
        return ParsedTag(artifact, action, version=match["version"], counter=counter)
    action = Action.UNASSIGN if cancel else Action.ASSIGN
    return ParsedTag(artifact, action, stage=match["stage"], counter=counter)


def format_tag(
    action: Action,
    artifact: str,
    version: str | None = None,
    stage: str | None = None,
    counter: int | None = None,
) -> str:
    """The tag name for an action: the one template per action, as GTO writes it."""
    name = artifact.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)
    if action in (Action.REGISTER, Action.DEREGISTER):
        body = f"{name}@{version}" + ("!" if action is Action.DEREGISTER else "")
    elif action in (Action.ASSIGN, Action.UNASSIGN):
        body = f"{name}#{stage}" + ("!" if action is Action.UNASSIGN else "")
    else:
        body = f"{name}@deprecated"
    tag = body if counter is None else f"{body}#{counter}"
    if parse_tag(tag) != ParsedTag(artifact, action, version, stage, counter):
        raise UsageError(f"{tag!r} is not a valid registry tag")
    return tag


def next_counter(tag_names: list[str], artifact: str) -> int:
    """The counter for an artifact's next tag: the highest over all its tags, plus 1.

    Lightweight tags count too: their names are taken.
    """
    highest = 0
    for name in tag_names:
        parsed = parse_tag(name)
        if parsed and parsed.artifact == artifact and parsed.counter is not None:
            highest = max(highest, parsed.counter)
    return highest + 1


# --- validation of user input (before any git call) ----------------------------------


def _show(value: str) -> str:
    return repr(value)


def validate_name(name: str) -> str:
    """``name`` if it is a valid artifact name for writing, else UsageError."""
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid artifact name {_show(name)}: use {NAME_RULES}",
            "Name an artifact declared under `artifacts:` in dvc.yaml, e.g. cancer-classifier.",
        )
    longest = max(re.split(rf"[/{SEPARATOR_IN_NAME}]", name), key=len)
    if len(longest) > NAME_PART_MAX:
        raise UsageError(
            f"invalid artifact name {_short(name)}: a part of it has {len(longest)} "
            f"characters, and git tags allow at most {NAME_PART_MAX} per part here",
            "Choose a shorter name in dvc.yaml's `artifacts:`.",
        )
    return name


def validate_stage(stage: str) -> str:
    """``stage`` if it is a valid stage name for writing, else UsageError."""
    if not STAGE_RE.fullmatch(stage):
        raise UsageError(
            f"invalid stage name {_short(stage)}: use letters, digits, '-' and '_', "
            "starting and ending with a letter or digit",
            "For example: dev, staging, prod.",
        )
    if len(stage) > STAGE_MAX:
        raise UsageError(
            f"invalid stage name {_short(stage)}: {len(stage)} characters, at most {STAGE_MAX}",
            "For example: dev, staging, prod.",
        )
    if stage.lower() in RESERVED_STAGES:
        raise UsageError(
            f"invalid stage name {_show(stage)}: NAME@{stage.lower()} already means "
            "something in a reference, so a stage of that name would be misread",
            "Choose another name, for example: dev, staging, prod.",
        )
    return stage


def _short(value: str, limit: int = 40) -> str:
    """``value`` quoted for an error message, cut with how much was left out."""
    if len(value) <= limit:
        return _show(value)
    return f"{_show(value[:limit])}... ({len(value)} characters)"


def validate_version(version: str) -> str:
    """``version`` if it is SemVer 2.0 with a ``v`` prefix, else UsageError."""
    if len(version) > VERSION_MAX:
        raise UsageError(
            f"invalid version {_short(version)}: at most {VERSION_MAX} characters",
            "For example: v1.2.0, v2.0.0-rc.1.",
        )
    if not VERSION_RE.fullmatch(version):
        prefixed = VERSION_RE.fullmatch(f"v{version}") is not None
        raise UsageError(
            f"invalid version {_show(version)}: use SemVer with a 'v' prefix"
            + (f"; did you mean v{version}?" if prefixed else ""),
            f"Run the command again with v{version}."
            if prefixed
            else "For example: v1.2.0, v2.0.0-rc.1.",
        )
    return version


# --- versions ------------------------------------------------------------------


@total_ordering
@dataclass(frozen=True)
class SemVer:
    """A ``vX.Y.Z`` version ordered by SemVer 2.0 precedence (via the semver library:
    ``v1.10.0`` > ``v1.9.0``, ``v1.0.0`` > ``v1.0.0-rc.1``, build metadata ignored)."""

    text: str

    @cached_property
    def parsed(self) -> semver.Version:
        return semver.Version.parse(self.text[1:])

    @cached_property
    def key(self) -> tuple[Any, ...]:
        """SemVer 2.0 precedence as a plain tuple, computed once (sorting hundreds
        of tags compares each many times): a release after its pre-releases,
        numeric identifiers before alphanumeric ones, fewer identifiers first."""
        v = self.parsed
        pre = tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in (v.prerelease or "").split(".")
            if v.prerelease
        )
        return (v.major, v.minor, v.patch, not v.prerelease, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.key < other.key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.parsed.compare(other.parsed) == 0

    def __hash__(self) -> int:
        return hash(self.parsed.finalize_version()) ^ hash(self.parsed.prerelease)

    def bump(self, part: str) -> str:
        v = self.parsed
        if part == "major":
            return f"v{v.bump_major()}"
        if part == "minor":
            return f"v{v.bump_minor()}"
        if part == "patch":
            return f"v{v.bump_patch()}"
        raise UsageError(f"unknown bump {part!r}: use major, minor or patch")


FIRST_VERSION = "v0.1.0"

# A tag that names a release: ``v1.2.3`` or ``1.2.3``, or GTO's ``NAME@v1.2.3``.
_RELEASE_TAG_RE = re.compile(rf"(?:{_ARTIFACT_IN_TAG}@)?v?(?P<version>{_SEMVER})")


def release_version(tag: str) -> SemVer | None:
    """The SemVer version a release tag names (``v1.2.3``, ``1.2.3``,
    ``NAME@v1.2.3``), None for any other tag."""
    match = _RELEASE_TAG_RE.fullmatch(tag)
    return SemVer(f"v{match['version']}") if match else None


# --- registry references ---------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """``NAME@vX.Y.Z``, ``NAME@latest`` or ``NAME#STAGE``, as typed by a user."""

    artifact: str
    version: str | None = None
    stage: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.artifact}@{self.version}" if self.version else f"{self.artifact}#{self.stage}"
        )


def parse_reference(text: str) -> Reference | None:
    """A registry reference, or None when ``text`` is not one (full match)."""
    match = REFERENCE_RE.fullmatch(text)
    if match is None:
        return None
    return Reference(match["artifact"], version=match["version"], stage=match["stage"])
