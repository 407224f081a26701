"""Bad inputs to a replay: each is a named error with exit 2 or 3, and nothing is
left in the environment cache."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from tests.helpers import tether
from tests.replay.conftest import (
    WHEELHOUSE,
    Release,
    cache_entries,
    manifest_of,
    tag_with_manifest,
)
from tether.replay import api, envs
from tether.replay.install import IndexOptions
from tether.replay.lock import LockedPackage, from_dict
from tether.replay.lock import installed as installed_in

REPLAY = ("--env", "--find-links", str(WHEELHOUSE), "--no-index")


def _tag_lock(release: Release, repo: Path, name: str, **changes: object) -> None:
    """Tag HEAD as ``name`` with the release's manifest, its lock changed (and
    re-hashed, so only the change itself is wrong)."""
    manifest = manifest_of(release.tag_message)
    lock = dataclasses.replace(from_dict(manifest["lock"]), **changes)  # type: ignore[arg-type]
    manifest["lock"] = lock.to_dict()
    tag_with_manifest(repo, name, release.tag_message, manifest)


def test_a_version_the_index_lacks_is_named(
    release_a: Release, release_copy: Path, isolated_home: Path
) -> None:
    lock = from_dict(manifest_of(release_a.tag_message)["lock"])
    packages = tuple(
        LockedPackage("scikit-learn", "0.0.1") if p.name == "scikit-learn" else p
        for p in lock.packages
    )
    _tag_lock(release_a, release_copy, "gone-from-index", packages=packages)
    proc = tether(release_copy, "verify", "gone-from-index", *REPLAY)
    assert proc.returncode == 3, proc.stderr
    assert f"find-links {WHEELHOUSE}" in proc.stderr
    assert "does not have scikit-learn==0.0.1" in proc.stderr
    assert "nothing else is substituted" in proc.stderr
    assert cache_entries(isolated_home) == []


def test_a_missing_interpreter_is_named(
    release_a: Release, release_copy: Path, isolated_home: Path
) -> None:
    _tag_lock(release_a, release_copy, "old-python", python="3.4.1")
    proc = tether(release_copy, "verify", "old-python", *REPLAY)
    assert proc.returncode == 2, proc.stderr
    assert "Python 3.4 (cpython 3.4.1 built the release) is not on this machine" in proc.stderr
    assert "--python PATH" in proc.stderr

    missing = release_copy / "no-such-python"
    proc = tether(release_copy, "verify", release_a.ref, *REPLAY, "--python", str(missing))
    assert proc.returncode == 2, proc.stderr
    assert f"--python {missing} is not a Python interpreter" in proc.stderr
    assert cache_entries(isolated_home) == []


def test_a_corrupt_lock_is_named(
    release_a: Release, release_copy: Path, isolated_home: Path
) -> None:
    manifest = manifest_of(release_a.tag_message)
    lines = manifest["lock"]["requirements"]
    index = next(i for i, line in enumerate(lines) if line.startswith("numpy=="))
    lines[index] = lines[index].replace("numpy==", "numpy==9", 1)  # sha256 not updated
    tag_with_manifest(release_copy, "edited-lock", release_a.tag_message, manifest)
    proc = tether(release_copy, "verify", "edited-lock", *REPLAY)
    assert proc.returncode == 2, proc.stderr
    assert "the environment lock of edited-lock is corrupt: its content hashes to" in proc.stderr

    manifest = manifest_of(release_a.tag_message)
    manifest["lock"]["requirements"][index] = "numpy>=1"
    tag_with_manifest(release_copy, "garbled-lock", release_a.tag_message, manifest)
    proc = tether(release_copy, "env", "garbled-lock")
    assert proc.returncode == 2, proc.stderr
    assert f"line {index + 1} is not a pinned requirement: 'numpy>=1'" in proc.stderr
    assert cache_entries(isolated_home) == []


def test_a_release_without_a_lock_replays_only_with_partial(
    release_a: Release, release_copy: Path, isolated_home: Path
) -> None:
    manifest = manifest_of(release_a.tag_message)
    del manifest["lock"]
    tag_with_manifest(release_copy, "old-release", release_a.tag_message, manifest)

    proc = tether(release_copy, "verify", "old-release", *REPLAY)
    assert proc.returncode == 2, proc.stderr
    assert "old-release was released before tether recorded whole environments" in proc.stderr
    assert "missing: the full list of installed distributions" in proc.stderr
    assert "--env --partial" in proc.stderr

    shown = tether(release_copy, "env", "old-release")
    assert shown.returncode == 0, shown.stderr
    assert "partial record" in shown.stdout and "missing: " in shown.stdout
    assert "  scikit-learn==" in shown.stdout
    assert cache_entries(isolated_home) == []


def test_env_of_a_commit_that_is_not_a_release(release_copy: Path) -> None:
    proc = tether(release_copy, "env", "HEAD")
    assert proc.returncode == 2
    assert "is not a release made by `tether release`" in proc.stderr
    assert "`tether show` lists them" in proc.stderr


def test_env_shows_the_recorded_lock(release_a: Release, release_copy: Path) -> None:
    shown = tether(release_copy, "env", release_a.ref)
    assert shown.returncode == 0, shown.stderr
    first = shown.stdout.splitlines()[0]
    assert first.startswith(f"environment of {release_a.ref} (")
    assert "distributions, lock sha256:" in first
    lock = from_dict(manifest_of(release_a.tag_message)["lock"])
    hashed = len(lock.installable)
    assert f"archive hashes: {hashed} of {hashed}" in shown.stdout
    assert "UV_FIND_LINKS" not in shown.stdout  # nothing unhashed to explain
    assert "editable (not locked by hash): tether" in shown.stdout
    same = tether(release_copy, "env", release_a.ref, "--diff")
    assert "is the recorded one" in same.stdout, same.stdout


def test_partial_replay_installs_the_recorded_versions(
    release_a: Release, release_copy: Path, isolated_home: Path
) -> None:
    manifest = manifest_of(release_a.tag_message)
    del manifest["lock"]
    tag_with_manifest(release_copy, "old-release", release_a.tag_message, manifest)
    record = api.recorded(release_copy, "old-release")
    assert record.partial and "scikit-learn" in record.packages
    pins = record.partial_lock()
    assert "tether" not in {p.name for p in pins.packages}  # editable here: the project

    index = IndexOptions((str(WHEELHOUSE),), None, True)
    env = envs.ensure(pins, index=index, partial=True)
    installed = installed_in(env.path)
    for package in pins.packages:
        assert installed[package.name][1] == package.version
    assert cache_entries(isolated_home) == [env.key]
    again = envs.ensure(pins, index=index, partial=True)
    assert again.reused and again.path == env.path
    assert again.interpreter == env.interpreter


def test_no_reachable_index_is_named(
    release_a: Release,
    release_copy: Path,
    isolated_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("UV_FIND_LINKS")
    monkeypatch.delenv("UV_NO_INDEX")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    index = f"http://127.0.0.1:{port}/simple"
    proc = tether(release_copy, "verify", release_a.ref, "--env", "--index-url", index)
    assert proc.returncode == 3, proc.stderr
    assert "no index reachable to install " in proc.stderr
    assert f"(index {index}): " in proc.stderr and "Connection refused" in proc.stderr
    assert cache_entries(isolated_home) == []


def test_env_says_why_archives_are_not_hashed(release_a: Release) -> None:
    """A release made without UV_FIND_LINKS records no archive hashes: `tether env`
    says where they come from, and that the record digests still hold."""
    from tether.replay.render import env_report

    lock = from_dict(manifest_of(release_a.tag_message)["lock"])
    bare = dataclasses.replace(
        lock, packages=tuple(dataclasses.replace(p, hashes=()) for p in lock.packages)
    )
    record = api.Recorded("r@v1", "0" * 40, bare, bare.python, "cpython", bare.tag, {}, None)  # type: ignore[arg-type]
    lines = "\n".join(env_report(api.EnvReport(record)))
    assert f"archive hashes: 0 of {len(bare.installable)}" in lines
    assert "named by UV_FIND_LINKS at release time" in lines
    assert "the record digests still prove" in lines
