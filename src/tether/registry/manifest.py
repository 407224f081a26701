"""What a release records about how it was built, inside its annotated tag.

The tag message is one human line, a blank line, then ``tether-manifest:`` and a
JSON document: the commit, metrics, params, the md5 of every DVC output and
dependency in dvc.lock, a digest of dvc.lock, the Hydra overrides, the Python
and package versions, the whole environment as a lock (``tether.replay.lock``), and
the sha256 of the commit's uv.lock.
GTO shows the whole message; tether reads the JSON back.
``tether.release.record`` builds it when a release is made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tether.backends.git import GitRepo
from tether.errors import ForgedManifest, UsageError
from tether.formats import json_restore, json_safe
from tether.registry import state
from tether.registry.tags import Action, Reference, parse_tag

MARKER = "tether-manifest:"
SCHEMA = 1


# The second tier of `tether verify`: where bits cannot match (another architecture,
# a CPU that cannot run the numerics profile), a rebuild is equivalent when the
# rebuilt model's predictions on the evaluation rows and its metrics are within these
# absolute tolerances of the release's. A release records them (``equivalence``).
DEFAULT_EQUIVALENCE = {"predictions_atol": 1e-6, "metrics_atol": 1e-6}

# The fields that record the machine (``tether.environment.capture``'s keys).
ENVIRONMENT_FIELDS = ("python", "implementation", "platform", "machine", "packages", "threads")


@dataclass(frozen=True)
class Manifest:
    artifact: str
    version: str
    path: str
    commit: str
    dvc_lock_sha256: str
    metrics: dict[str, Any]
    params: dict[str, Any]
    outs: dict[str, str]
    deps: dict[str, str]
    overrides: list[str]
    python: str
    packages: dict[str, str]
    schema: int = SCHEMA
    # Recorded since the first release of tether's manifest; older tags lack them.
    implementation: str = ""
    platform: str = ""
    machine: str = ""
    threads: dict[str, Any] = field(default_factory=dict)
    # The md5 of the release's reference profile for `tether monitor` (a DVC object,
    # in the cache and the remote); empty when monitoring is not configured.
    profile: str = ""
    # The whole environment as a lock (``tether.replay.lock``); older tags lack it.
    lock: dict[str, Any] = field(default_factory=dict)
    # What the build's numerics were (``tether.environment.NumericsRecord``): the
    # profile, and the BLAS kernels, threads, SIMD levels and CPU the machine ran it
    # with; older tags lack it.
    numerics: dict[str, Any] = field(default_factory=dict)
    equivalence: dict[str, float] = field(default_factory=dict)
    # The commit's uv.lock (``tether.envlock``): ``{"path": "uv.lock", "sha256": ...}``
    # of the lock that pins its environment; the lock itself stays in the commit.
    # Older tags, and commits without one, lack it.
    uv_lock: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as strict JSON data: NaN and infinite metrics written as
        ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (as ``tether diff --json`` does)."""
        return {
            "schema": self.schema,
            "artifact": self.artifact,
            "version": self.version,
            "path": self.path,
            "commit": self.commit,
            "dvc_lock_sha256": self.dvc_lock_sha256,
            "metrics": json_safe(self.metrics),
            "params": json_safe(self.params),
            "outs": self.outs,
            "deps": self.deps,
            "overrides": self.overrides,
            "python": self.python,
            "implementation": self.implementation,
            "platform": self.platform,
            "machine": self.machine,
            "packages": self.packages,
            "threads": self.threads,
            **({"profile": self.profile} if self.profile else {}),
            "lock": self.lock,
            **({"numerics": self.numerics} if self.numerics else {}),
            **({"equivalence": self.equivalence} if self.equivalence else {}),
            **({"uv_lock": self.uv_lock} if self.uv_lock else {}),
        }

    def environment(self) -> dict[str, Any]:
        """The recorded environment in ``tether.environment.capture``'s shape,
        leaving out what an older manifest did not record."""
        recorded = {key: getattr(self, key) for key in ENVIRONMENT_FIELDS}
        return {key: value for key, value in recorded.items() if value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def render(manifest: Manifest, human: str) -> str:
    """The tag message: the human line, then the manifest as JSON."""
    # NaN and infinite metrics are values: to_dict spells them as strict JSON strings.
    body = json.dumps(manifest.to_dict(), indent=2, sort_keys=False, allow_nan=False)
    return f"{human.strip()}\n\n{MARKER}\n{body}\n"


def parse(message: str) -> Manifest | None:
    """The manifest in a tag message, or None when the tag has none (GTO's own tags)."""
    _, marker, body = message.partition(f"\n{MARKER}\n")
    if not marker:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # anyone can write a tag: nested too deep too
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    if isinstance(data.get("metrics"), dict):
        data["metrics"] = json_restore(data["metrics"])
    try:
        return Manifest.from_dict(data)
    except TypeError:  # a required field is missing: not a manifest tether wrote
        return None


def human_line(message: str) -> str:
    return message.split("\n", 1)[0]


def check_describes(manifest: Manifest, tag: str, commit: str) -> Manifest:
    """``manifest`` if it describes the tag ``tag`` pointing at ``commit``; else
    ForgedManifest (exit 1). Anyone can write any message into a tag: a manifest
    copied from another release, or written by hand, must not pass for this one's
    record (its metrics and hashes would be shown and verified as this release's)."""

    parsed = parse_tag(tag)
    found = []
    if manifest.commit != commit:
        found.append(f"commit {manifest.commit[:12]!r}, the tag points at {commit[:12]}")
    if parsed is not None and manifest.artifact != parsed.artifact:
        found.append(f"artifact {manifest.artifact!r}, the tag's is {parsed.artifact!r}")
    if parsed is not None and parsed.version and manifest.version != parsed.version:
        found.append(f"version {manifest.version!r}, the tag's is {parsed.version!r}")
    if found:
        raise ForgedManifest(
            f"the manifest does not describe this tag: {tag}'s manifest names " + "; ".join(found),
            f"Do not trust this release. See who made it with `git show {tag}`; "
            "a release made by `tether release` always describes its own tag.",
        )
    return manifest


def require(message: str, tag: str, commit: str) -> Manifest:
    """The manifest in the message of release tag ``tag`` (at ``commit``), checked to
    describe that tag."""
    found = parse(message)
    if found is None:
        raise UsageError(
            f"tag {tag} has no tether manifest (it was not made by `tether release`)",
            "Only releases made with `tether release` record how they were built.",
        )
    return check_describes(found, tag, commit)


@dataclass(frozen=True)
class ReleaseRecord:
    """A release's tag, its human line, and its manifest."""

    artifact: str
    version: str
    tag: str
    commit: str
    summary: str
    manifest: Manifest
    deregistered: str | None = None  # the NAME@vX.Y.Z! tag, if it was withdrawn


def record_in(registry: state.Registry, reference: Reference, ref: str) -> ReleaseRecord:
    """The release ``reference`` (typed as ``ref``) names in ``registry``, already
    read; UsageError when it names none."""
    artifact = registry.find(reference.artifact)
    if artifact is None:
        raise UsageError(f"no release {ref}", state.unresolved_hint(registry, reference))
    name = state.referenced_version(artifact, reference)
    found = artifact.versions.get(name) if name else None
    if found is None or not (found.active or (found.registered and name == reference.version)):
        raise UsageError(f"no release {ref}", state.unresolved_hint(registry, reference))
    if not found.registered:
        raise UsageError(f"{ref} names commit {found.commit[:8]}, which has no registered version")
    events = [e for e in artifact.events if e.version == found.version]
    event = next(e for e in reversed(events) if e.action is Action.REGISTER)
    withdrawn = None
    if not found.active:
        withdrawn = next(e.tag for e in reversed(events) if e.action is Action.DEREGISTER)
    return ReleaseRecord(
        artifact.name,
        found.version,
        event.tag,
        found.commit,
        human_line(event.message),
        require(event.message, event.tag, found.commit),
        withdrawn,
    )


def in_tag(git: GitRepo, tag: str, commit: str | None = None) -> Manifest | None:
    """The manifest in the annotated tag ``tag`` (whose commit is ``commit``, else
    resolved here); None for any other revision, a lightweight tag, or a tag that
    `tether release` did not make. ForgedManifest when it describes another commit."""
    message = git.tag_message(tag)
    found = parse(message) if message else None
    if found is None:
        return None
    return check_describes(found, tag, commit or git.resolve(tag))
