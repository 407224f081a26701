"""The scenario of issue 14, end to end: a release made under scikit-learn A does
not reproduce under B, and reproduces bit for bit in its replayed environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.replay.conftest import (
    SKLEARN_A,
    SKLEARN_B,
    WHEELHOUSE,
    Release,
    cache_entries,
    tether_in,
)

pytestmark = pytest.mark.slow


def test_a_release_reproduces_only_in_its_replayed_environment(
    release_a: Release, release_copy: Path, venv_b: Path, isolated_home: Path
) -> None:
    assert SKLEARN_A != SKLEARN_B, "the pair must be two versions"
    ref = release_a.ref

    # Plain verify from B: the model's bytes differ and the version change is named.
    plain = tether_in(venv_b, release_copy, "verify", ref)
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert "NOT reproduced" in plain.stdout
    assert "models/model.pkl differs" in plain.stdout
    assert f"packages.scikit-learn: {SKLEARN_A} -> {SKLEARN_B}" in plain.stdout
    # ...and named as the layer that explains the difference.
    assert f"why the bytes differ:\n  packages: scikit-learn {SKLEARN_A} then, {SKLEARN_B} now" in (
        plain.stdout
    )

    # --env from B: the release's environment (A) is built and every output is exact.
    replay = ["verify", ref, "--env", "--find-links", str(WHEELHOUSE), "--no-index"]
    first = tether_in(venv_b, release_copy, *replay)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "environment replayed: cpython" in first.stdout
    assert "built in" in first.stdout
    assert "bit-exact: all" in first.stdout and "reproduced exactly" in first.stdout
    assert "not replayed: OS libraries" in first.stdout and "thread counts" in first.stdout
    assert "environment: same as recorded" in first.stdout
    [key] = cache_entries(isolated_home)

    # A second replay starts from the cached environment.
    second = tether_in(venv_b, release_copy, *replay, "--json")
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["ok"] is True
    assert data["replay"]["reused"] is True and data["replay"]["key"] == key
    assert {o["status"] for o in data["outputs"]} == {"exact"}
    assert data["environment"]["current"]["packages"]["scikit-learn"] == SKLEARN_A
    assert cache_entries(isolated_home) == [key]

    pruned = tether_in(venv_b, release_copy, "env", "prune")
    assert pruned.returncode == 0 and "removed 1 replayed environment(s)" in pruned.stdout
    assert cache_entries(isolated_home) == []


def test_env_diff_lists_exactly_the_changed_packages(
    release_a: Release, release_copy: Path, venv_b: Path
) -> None:
    shown = tether_in(venv_b, release_copy, "env", release_a.ref, "--diff", "--json")
    assert shown.returncode == 0, shown.stderr
    diff = json.loads(shown.stdout)["diff"]
    assert diff["changed"] == {
        "scikit-learn": {"recorded": SKLEARN_A, "current": SKLEARN_B, "change": "changed"}
    }
    assert diff["added"] == [] and diff["removed"] == []
    assert diff["python"] is None and diff["platform"] is None

    text = tether_in(venv_b, release_copy, "env", release_a.ref, "--diff")
    assert f"  changed  scikit-learn {SKLEARN_A} -> {SKLEARN_B}" in text.stdout
    assert "1 package(s) differ: 1 changed" in text.stdout
