"""A release records the sha256 of its commit's uv.lock in the manifest; manifests
written before the field read as they did."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.helpers import commit_all, tether
from tether.registry.manifest import Manifest, parse, render

NAME = "cancer-classifier"


def _manifest(**extra: object) -> Manifest:
    return Manifest(
        artifact="m",
        version="v0.1.0",
        path="model.pkl",
        commit="a" * 40,
        dvc_lock_sha256="0" * 64,
        metrics={"metrics.json": {"f1": 0.5}},
        params={},
        outs={"model.pkl": "d41d8cd98f00b204e9800998ecf8427e"},
        deps={},
        overrides=[],
        python="3.11.7",
        packages={},
        **extra,  # type: ignore[arg-type]
    )


def test_the_uv_lock_field_round_trips_and_old_manifests_lack_it() -> None:
    recorded = {"path": "uv.lock", "sha256": "b" * 64}
    with_lock = _manifest(uv_lock=recorded)
    back = parse(render(with_lock, "m v0.1.0"))
    assert back == with_lock and back is not None and back.uv_lock == recorded
    assert with_lock.to_dict()["uv_lock"] == recorded

    old = _manifest()
    assert "uv_lock" not in old.to_dict()
    message = render(old, "m v0.1.0")
    assert '"uv_lock"' not in message
    assert parse(message) == replace(with_lock, uv_lock={})


@pytest.mark.slow
def test_a_release_records_its_commits_uv_lock(template_repo: Path) -> None:
    data = (PROJECT / "uv.lock").read_bytes()
    (template_repo / "uv.lock").write_bytes(data)
    commit_all(template_repo, "lock the environment")
    released = tether(template_repo, "release", NAME)
    assert released.returncode == 0, released.stdout + released.stderr

    digest = hashlib.sha256(data).hexdigest()
    shown = tether(template_repo, "manifest", f"{NAME}@v0.1.0", "--json", check=True)
    assert json.loads(shown.stdout)["uv_lock"] == {"path": "uv.lock", "sha256": digest}
    text = tether(template_repo, "manifest", f"{NAME}@v0.1.0", check=True).stdout
    assert any(line.split() == ["uv.lock", "sha256", digest] for line in text.splitlines())
