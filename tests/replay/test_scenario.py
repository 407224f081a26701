"""The scenario of issue 14, end to end: a release made under scikit-learn A does
not reproduce under B, and reproduces bit for bit in its replayed environment."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

from tests.replay.conftest import (
    SKLEARN_A,
    SKLEARN_B,
    WHEELHOUSE,
    Release,
    cache_entries,
    env_cache,
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

    # Code appended to a module of the cached environment, and a .pth file planted
    # beside it, would run in every stage: the next replay finds both and rebuilds.
    env = env_cache(isolated_home) / key
    [site] = env.glob("lib/python*/site-packages")
    module = site / "sklearn" / "__init__.py"
    clean = module.read_bytes()
    with module.open("ab") as fh:
        fh.write(b"\nraise SystemExit('tampered')\n")
    (site / "zz-planted.pth").write_text("import os\n")
    third = tether_in(venv_b, release_copy, *replay, "--json")
    assert third.returncode == 0, third.stdout + third.stderr
    data = json.loads(third.stdout)
    assert data["replay"]["reused"] is False and data["ok"] is True
    rebuilt = " ".join(data["replay"]["rebuilt_because"])
    assert "sklearn/__init__.py was changed" in rebuilt and "zz-planted.pth was added" in rebuilt
    # uv copied the files: its cache was not damaged with the environment
    assert module.read_bytes() == clean and not (site / "zz-planted.pth").exists()
    assert {o["status"] for o in data["outputs"]} == {"exact"}

    # An environment in use (a running verify holds its lock) is left by prune.
    with (env / "tether-env.lock").open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_SH)
        busy = tether_in(venv_b, release_copy, "env", "prune")
        assert busy.returncode == 0, busy.stderr
        assert f"left 1 in use by a running `tether verify --env` or replay: {key}" in (busy.stdout)
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
