"""The registry as the tags say it is, read in one ``git for-each-ref`` pass.

Order of events: by the per-artifact counter N, never by tag time. Tag times have
one-second resolution, so two assignments made within a second cannot be told apart
by time (GTO then names either one). Tags without a counter (GTO writes
registrations as plain ``NAME@vX.Y.Z``) are placed by their time among the others.

A stage's current version is the version whose latest assignment to that stage
comes last, among versions whose own latest event for the stage is an assignment
(not an unassignment) and that are not deregistered. These are GTO's rules with
the counter in place of the clock, so both tools name the same version whenever
the tag times differ.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import heapq
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.backends.git import GitRepo, TagRef
from tether.errors import TetherWarning, UsageError
from tether.registry.gto_config import CONFIG_FILE, GtoConfig
from tether.registry.gto_config import load as load_config
from tether.registry.tags import (
    PRIORITY,
    Action,
    ParsedTag,
    Reference,
    SemVer,
    parse_tag,
    validate_name,
)


@dataclass(frozen=True)
class Event:
    """One registry tag, as an event."""

    artifact: str
    action: Action
    tag: str
    commit: str
    version: str  # for stage events: the version registered at the commit (or its SHA)
    stage: str | None
    counter: int | None
    author: str
    author_email: str
    time: int
    offset_minutes: int
    message: str

    @property
    def priority(self) -> int:
        return PRIORITY[self.action]

    @property
    def timestamp(self) -> dt.datetime:
        zone = dt.timezone(dt.timedelta(minutes=self.offset_minutes))
        return dt.datetime.fromtimestamp(self.time, tz=zone)

    def to_dict(self) -> dict[str, Any]:
        """The fields and values of an event in ``gto history --json``."""
        return {
            "timestamp": self.timestamp.isoformat(),
            "artifact": self.artifact,
            "event": self.action.value,
            "priority": self.priority,
            "version": None if self.action is Action.DEPRECATE else self.version,
            "stage": self.stage,
            "commit": self.commit,
            "author": self.author,
            "author_email": self.author_email,
            "message": self.message,
            "ref": self.tag,
        }


@dataclass
class Version:
    version: str
    commit: str
    registered: bool  # has a registration tag (False: a commit assigned directly)
    active: bool  # not deregistered
    tag: str | None = None  # the registration tag


@dataclass
class Artifact:
    name: str
    events: list[Event] = field(default_factory=list)  # oldest first, in counter order
    versions: dict[str, Version] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)  # stage -> current version
    deprecated: bool = False

    @property
    def live_versions(self) -> list[Version]:
        """The registered, not deregistered versions, lowest to highest by SemVer
        precedence (the one place that orders an artifact's versions)."""
        live = [v for v in self.versions.values() if v.registered and v.active]
        return sorted(live, key=lambda v: SemVer(v.version))

    @property
    def latest(self) -> str | None:
        """The highest registered, not deregistered version by SemVer precedence."""
        live = self.live_versions
        return live[-1].version if live else None

    @property
    def highest_ever(self) -> str | None:
        """The highest version ever registered, deregistered ones included: a new
        version goes above it, so no version sorts below one withdrawn before it."""
        every = [v.version for v in self.versions.values() if v.registered]
        return max(every, key=SemVer) if every else None

    def version_at(self, commit: str) -> Version | None:
        """The version registered at ``commit`` (GTO allows one per commit): the live
        one if there is one, else one that was deregistered."""
        found = [v for v in self.versions.values() if v.commit == commit and v.registered]
        return next((v for v in found if v.active), found[0] if found else None)

    def stage_events(self, stage: str) -> list[Event]:
        return [e for e in self.events if e.stage == stage]

    def holders(self, stage: str) -> list[str | None]:
        """The stage's current version after each of its events, oldest first."""
        return [_holder(self, events) for events in _prefixes(self.stage_events(stage))]


# Set to 1 where every tag was fetched into a shallow clone (`git fetch --tags`):
# registry reads then warn instead of refusing. Writes are refused all the same.
ALLOW_INCOMPLETE = "TETHER_ALLOW_INCOMPLETE_REGISTRY"


@dataclass(frozen=True)
class Incomplete:
    """Why this clone may lack some of the remote's tags: the registry it reads can
    be older than the remote's (``NAME#prod`` naming a version since replaced)."""

    shallow: bool
    remotes_without_tags: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        if self.shallow:
            return (
                "this clone is shallow (`git clone --depth`), so tags beyond its depth are missing"
            )
        return (
            f"this clone fetches no tags from {', '.join(self.remotes_without_tags)} "
            "(`git clone --no-tags`)"
        )

    @property
    def fix(self) -> str:
        fetch = (
            "`git fetch --tags --unshallow`"
            if self.shallow
            else " && ".join(
                f"`git config --unset remote.{r}.tagOpt && git fetch --tags {r}`"
                for r in self.remotes_without_tags
            )
        )
        return f"Fetch every tag: {fetch} (CI: actions/checkout with `fetch-depth: 0`)."


def incomplete(git: GitRepo) -> Incomplete | None:
    """Whether ``git``'s clone may miss tags the remote has; None when it fetches all."""
    shallow = git.is_shallow()
    without = tuple(git.remotes_without_tags())
    return Incomplete(shallow, without) if shallow or without else None


@dataclass
class Registry:
    artifacts: dict[str, Artifact]
    tag_names: list[str]  # every tag, lightweight ones included (their names are taken)
    config: GtoConfig = field(default_factory=GtoConfig)  # GTO's .gto
    incomplete: Incomplete | None = None  # set by ``read``: this clone may miss tags

    def require_complete(self, what: str, *, write: bool = False) -> None:
        """Refuse ``what`` (e.g. "`tether show`") when this clone may miss tags, as
        its answer could be an older one; with TETHER_ALLOW_INCOMPLETE_REGISTRY=1 a
        read warns instead. A write always refuses: it could reuse a version or
        counter that a tag this clone lacks has taken."""
        if self.incomplete is None:
            return
        if not write and os.environ.get(ALLOW_INCOMPLETE) == "1":
            self.warn_incomplete(what)
            return
        hint = self.incomplete.fix
        if not write:
            hint += f" Or, when every tag is already fetched: {ALLOW_INCOMPLETE}=1."
        raise UsageError(f"{what} needs every registry tag, and {self.incomplete.reason}", hint)

    def warn_incomplete(self, what: str) -> None:
        """Say that ``what`` may be missing newer registry events, and the fix."""
        if self.incomplete is None:
            return
        warnings.warn(
            TetherWarning(
                f"{what} may be incomplete: {self.incomplete.reason}. {self.incomplete.fix}"
            ),
            stacklevel=3,
        )

    def check_reference(self, reference: Reference, text: str) -> None:
        """A reference whose answer depends on every tag (``NAME#STAGE``,
        ``NAME@latest``) is refused in a clone that may miss some; an explicit
        ``NAME@vX.Y.Z`` is answered with a warning (its tag is its own, but a later
        deregistration may be missing)."""
        if reference.stage is not None or reference.version == "latest":
            self.require_complete(f"resolving {text}")
        else:
            self.warn_incomplete(f"the registry state of {text}")

    def find(self, name: str) -> Artifact | None:
        return self.artifacts.get(name)

    def used_stages(self) -> list[str]:
        return sorted({s for a in self.artifacts.values() for s in a.stages})

    def stages(self) -> list[str]:
        """The registry's stages as GTO lists them: those .gto allows, in its order;
        without an allow-list, every stage some version holds."""
        if self.config.stages is not None:
            return list(self.config.stages)
        return self.used_stages()

    def events(self, name: str | None = None) -> list[Event]:
        """Every event, newest first, of all artifacts or of one."""
        chosen = [a for a in self.artifacts.values() if name is None or a.name == name]
        return list(reversed(_merged(chosen)))


def _prefixes(events: list[Event]) -> Iterable[list[Event]]:
    for i in range(1, len(events) + 1):
        yield events[:i]


def _holder(artifact: Artifact, stage_events: list[Event]) -> str | None:
    """Which version holds a stage after ``stage_events`` (oldest first)."""
    last: dict[str, tuple[int, Action]] = {}
    for rank, event in enumerate(stage_events):
        last[event.version] = (rank, event.action)
    best: tuple[int, str] | None = None
    for version, (rank, action) in last.items():
        info = artifact.versions.get(version)
        if action is not Action.ASSIGN or (info is not None and not info.active):
            continue
        if best is None or rank > best[0]:
            best = (rank, version)
    return best[1] if best else None


def _key(event: Event) -> tuple[int, int]:
    return (event.time, event.priority)


def _ordered(events: Iterable[Event]) -> list[Event]:
    """One artifact's events, oldest first: tags with a counter by counter; each tag
    without one goes after the last counted tag not later than it (time, then
    GTO's priority), so registrations sit where they happened."""
    events = list(events)
    counted = sorted((e for e in events if e.counter is not None), key=lambda e: (e.counter, e.tag))
    loose = sorted((e for e in events if e.counter is None), key=lambda e: (*_key(e), e.tag))
    if not loose or not counted:
        return counted + loose
    # suffix_min[i] is the smallest key at or after i; it never decreases, so the
    # last counted tag not later than k is found by bisection.
    suffix_min = [_key(e) for e in counted]
    for i in range(len(counted) - 2, -1, -1):
        suffix_min[i] = min(suffix_min[i], suffix_min[i + 1])
    slots: dict[int, list[Event]] = {}
    for event in loose:
        slots.setdefault(bisect.bisect_right(suffix_min, _key(event)), []).append(event)
    merged = list(slots.get(0, []))
    for i, event in enumerate(counted, start=1):
        merged.append(event)
        merged.extend(slots.get(i, []))
    return merged


def _merged(artifacts: Iterable[Artifact]) -> list[Event]:
    """Events of several artifacts, oldest first. Counters are per artifact, so each
    artifact keeps its own order and the sequences are interleaved by time."""
    return list(heapq.merge(*(a.events for a in artifacts), key=_key))


def _event(ref: TagRef, parsed: ParsedTag, version: str) -> Event:
    return Event(
        artifact=parsed.artifact,
        action=parsed.action,
        tag=ref.name,
        commit=ref.target,
        version=version,
        stage=parsed.stage,
        counter=parsed.counter,
        author=ref.tagger_name,
        author_email=ref.tagger_email,
        time=ref.time,
        offset_minutes=ref.offset_minutes,
        message=ref.message.strip(),
    )


def build(refs: list[TagRef], config: GtoConfig | None = None) -> Registry:
    """The registry from a list of tags (lightweight ones only reserve names).

    With a .gto allow-list of stages, an assignment to any other stage holds no
    stage (as in GTO); its events stay in the history."""
    config = config or GtoConfig()
    artifacts: dict[str, Artifact] = {}
    parsed_refs = []
    for ref in refs:
        parsed = parse_tag(ref.name)
        if parsed is not None and ref.annotated:
            parsed_refs.append((ref, parsed))

    # GTO lists artifacts in the order it first meets them: deprecations, then
    # (de)registrations, then stage tags, each group by tag time.
    groups = (
        {Action.DEPRECATE},
        {Action.REGISTER, Action.DEREGISTER},
        {Action.ASSIGN, Action.UNASSIGN},
    )
    for group in groups:
        chosen = sorted(
            ((r, p) for r, p in parsed_refs if p.action in group),
            key=lambda rp: (rp[0].time, rp[0].name),
        )
        for _, parsed in chosen:
            artifacts.setdefault(parsed.artifact, Artifact(parsed.artifact))

    raw: dict[str, list[tuple[TagRef, ParsedTag]]] = {}
    for ref, parsed in parsed_refs:
        raw.setdefault(parsed.artifact, []).append((ref, parsed))
    for name, items in raw.items():
        _fill(artifacts[name], items, config)
    return Registry(artifacts=artifacts, tag_names=[r.name for r in refs], config=config)


def _fill(artifact: Artifact, items: list[tuple[TagRef, ParsedTag]], config: GtoConfig) -> None:
    # Versions first: a stage tag names its version through its commit.
    direct = [
        _event(ref, p, p.version or "")
        for ref, p in items
        if p.action in (Action.REGISTER, Action.DEREGISTER)
    ]
    _apply_registrations(artifact, direct)
    events = direct + _stage_events(artifact, items)
    artifact.events = _ordered(events)
    artifact.deprecated = bool(artifact.events) and artifact.events[-1].action is Action.DEPRECATE
    for stage in sorted({e.stage for e in artifact.events if e.stage}):
        if not config.allows_stage(stage):
            continue
        holder = _holder(artifact, artifact.stage_events(stage))
        if holder is not None:
            artifact.stages[stage] = holder


def _apply_registrations(artifact: Artifact, direct: list[Event]) -> None:
    """Each version's registered/active state, from its register and deregister
    events in order."""
    for event in _ordered(direct):
        known = artifact.versions.get(event.version)
        if known is None:
            known = artifact.versions[event.version] = Version(
                event.version, event.commit, registered=False, active=False
            )
        if event.action is Action.REGISTER:
            known.registered, known.active, known.tag = True, True, event.tag
        else:
            known.active = False


def _stage_events(artifact: Artifact, items: list[tuple[TagRef, ParsedTag]]) -> list[Event]:
    """The assign, unassign and deprecate events, each naming its version (the one
    registered at the tag's commit, or the commit itself as GTO names it)."""
    events = []
    by_commit = {v.commit: v for v in reversed(artifact.versions.values()) if v.registered}
    for ref, p in items:
        if p.action in (Action.ASSIGN, Action.UNASSIGN):
            found = by_commit.get(ref.target)
            if found is None:
                # A commit assigned without a registration: GTO names it by its SHA.
                found = artifact.versions.setdefault(
                    ref.target, Version(ref.target, ref.target, registered=False, active=True)
                )
            events.append(_event(ref, p, found.version))
        elif p.action is Action.DEPRECATE:
            events.append(_event(ref, p, ""))
    return events


def read(git: GitRepo) -> Registry:
    """The registry of the repository, from one ``git for-each-ref`` pass.

    A tag whose commit this clone lacks is left out with a warning naming it (its
    name stays taken), so one dangling tag does not stop every registry read.
    """
    registry = build(git.tag_refs(), load_config(git.root))
    registry.incomplete = incomplete(git)
    if git.skipped_tags:
        registry.tag_names.extend(git.skipped_tags)
        warnings.warn(
            TetherWarning(
                f"skipped tag(s) whose commit is missing from this clone: "
                f"{', '.join(git.skipped_tags)}; fetch it (`git fetch --tags`, or "
                "`git fetch --unshallow` in a shallow clone) or delete the tag"
            ),
            stacklevel=2,
        )
    return registry


# --- views ------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """``tether show``: per artifact its latest version and each used stage's version."""

    stages: list[str]
    artifacts: dict[str, Any]  # exactly ``gto show --json``


def show(root: Path, name: str | None = None) -> Shown:
    """The registry view of ``tether show`` (one artifact when ``name`` is given);
    UsageError for a name that no artifact could have, before git is asked."""
    if name is not None:
        validate_name(name)
    registry = load(root)
    registry.require_complete("`tether show`")
    if name is not None:
        artifact = _known(registry, name)
        if artifact.deprecated:
            raise UsageError(
                f"{name} is deprecated (tag {artifact.events[-1].tag})", f"Run `tether log {name}`."
            )
    return Shown(stages=registry.stages(), artifacts=show_dict(registry, name))


def history(root: Path, name: str | None = None) -> list[Event]:
    """The events of ``tether log``, newest first: every artifact's, or ``name``'s
    (deprecated artifacts included: their history is still there)."""
    if name is not None:
        validate_name(name)
    registry = load(root)
    registry.warn_incomplete("`tether log`")
    if name is not None:
        _known(registry, name)
    return registry.events(name)


def close_names(name: str, candidates: Iterable[str]) -> list[str]:
    """Names near ``name`` (a typo is likelier than a new name), closest first."""
    return difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)


def _known(registry: Registry, name: str) -> Artifact:
    artifact = registry.find(name)
    if artifact is None:
        known = ", ".join(registry.artifacts) or "none yet"
        close = close_names(name, registry.artifacts)
        raise UsageError(
            f"no artifact {name!r} in the registry (released: {known})"
            + (f"; did you mean {' or '.join(close)}?" if close else ""),
            f"Run the command again with {close[0]}." if close else "Run `tether show`.",
        )
    return artifact


def show_dict(registry: Registry, name: str | None = None) -> dict[str, Any]:
    """What ``gto show --json`` prints: per active artifact, its latest version and
    the version in every stage of the registry (None where none)."""
    stages = registry.stages()
    out: dict[str, Any] = {}
    for artifact in registry.artifacts.values():
        if artifact.deprecated or (name is not None and artifact.name != name):
            continue
        out[artifact.name] = {
            "version": artifact.latest,
            "stage": {stage: artifact.stages.get(stage) for stage in stages},
            "registered": True,
            "active": True,
        }
    return out


# --- registry references -------------------------------------------------------------


def referenced_version(artifact: Artifact, reference: Reference) -> str | None:
    """The version name a reference points at in ``artifact``: the stage's current
    holder, the latest live version, or the version written, whatever its state."""
    if reference.stage is not None:
        return artifact.stages.get(reference.stage)
    if reference.version == "latest":
        return artifact.latest
    return reference.version


def resolve_reference(registry: Registry, reference: Reference) -> str | None:
    """The commit a reference names, or None when the registry has no such thing.

    ``NAME@vX.Y.Z`` must be registered and not deregistered; ``NAME@latest`` is the
    highest such version; ``NAME#STAGE`` is the version currently in the stage.
    """
    artifact = registry.find(reference.artifact)
    if artifact is None:
        return None
    version = referenced_version(artifact, reference)
    found = artifact.versions.get(version) if version else None
    if found is None or not found.active:
        return None
    return found.commit


def unresolved_hint(registry: Registry, reference: Reference) -> str:
    """Why a reference names nothing, and what exists instead (and, in a clone that
    may miss tags, that the one it names may be among them)."""
    hint = _unresolved_hint(registry, reference)
    if registry.incomplete is not None:
        hint += (
            f" It may be a tag this clone lacks: {registry.incomplete.reason}. "
            f"{registry.incomplete.fix}"
        )
    return hint


def _unresolved_hint(registry: Registry, reference: Reference) -> str:
    artifact = registry.find(reference.artifact)
    if artifact is None:
        known = ", ".join(sorted(registry.artifacts)) or "none yet"
        close = close_names(reference.artifact, registry.artifacts)
        guess = f" Did you mean {' or '.join(close)}?" if close else " See `tether show`."
        return f"No artifact {reference.artifact!r} in the registry (registered: {known}).{guess}"
    if reference.stage is not None and not registry.config.allows_stage(reference.stage):
        allowed = ", ".join(registry.config.stages or []) or "none"
        return f"{reference.stage!r} is not a stage in {CONFIG_FILE} (allowed stages: {allowed})."
    if reference.stage is not None:
        stages = ", ".join(f"{s}={v}" for s, v in sorted(artifact.stages.items())) or "none"
        return (
            f"No version of {artifact.name} is in stage {reference.stage!r} (stages: {stages}). "
            f"Put one there with `tether promote {artifact.name} VERSION {reference.stage}`."
        )
    shown = ", ".join(v.version for v in artifact.live_versions) or "none"
    if reference.version in artifact.versions:
        return f"{artifact.name} {reference.version} was deregistered (registered: {shown})."
    return f"{artifact.name} has no version {reference.version} (registered: {shown})."


def load(root: Path) -> Registry:
    """The registry of the repository at ``root``."""
    with GitRepo(root) as git:
        return read(git)
