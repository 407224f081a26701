"""Publishing registry tags: a stage tag goes out with its release tag in one atomic
push, and after a push the remote's true state is reported (real git, a bare remote)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.helpers import git, tether
from tests.registry.conftest import Clock


def tags(root: Path) -> set[str]:
    return set(git(root, "tag", "-l").split())


@pytest.fixture
def unpublished(plain_registry: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Clone A (m v0.1.0 and v0.2.0 released locally, never pushed) and its empty
    bare remote."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(plain_registry, "remote", "add", "origin", str(remote))
    git(plain_registry, "push", "-q", "origin", "main")
    return plain_registry, remote


def test_promote_push_publishes_the_release_tag_with_the_stage_tag(
    unpublished: tuple[Path, Path], tmp_path: Path, clock: Clock
) -> None:
    a, remote = unpublished
    done = tether(a, "promote", "m", "v0.1.0", "prod", "--push", env=clock.env())
    assert done.returncode == 0, done.stderr
    assert (
        "created tag m#prod#1 and pushed it to origin together with m@v0.1.0 "
        "(one atomic push); m #prod: (none) -> v0.1.0"
    ) in done.stdout
    assert tags(remote) == {"m@v0.1.0", "m#prod#1"}

    # A teammate's clone sees the version in prod, not a bare commit SHA.
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(b))
    shown = json.loads(tether(b, "show", "--json", check=True).stdout)
    assert shown["m"]["stage"] == {"prod": "v0.1.0"}
    # m#prod resolves to the release tag (made by hand here, so it has no manifest).
    found = tether(b, "manifest", "m#prod")
    assert "tag m@v0.1.0 has no tether manifest" in found.stderr, found.stderr


def test_a_push_carries_the_stages_earlier_local_tags(
    unpublished: tuple[Path, Path], clock: Clock
) -> None:
    """promote without --push, then promote --push: the remote gets the stage's
    whole history (both prod tags and the releases they assign), not the newest tag
    alone; another stage's local tag stays local."""
    a, remote = unpublished
    tether(a, "promote", "m", "v0.2.0", "staging", check=True, env=clock.env())
    tether(a, "promote", "m", "v0.1.0", "prod", check=True, env=clock.env())
    first_prod = sorted(t for t in tags(a) if t.startswith("m#prod#"))[0]
    staging = next(t for t in tags(a) if t.startswith("m#staging#"))
    done = tether(a, "promote", "m", "v0.2.0", "prod", "--push", env=clock.env())
    assert done.returncode == 0, done.stderr
    second_prod = (tags(a) - {first_prod, staging, "m@v0.1.0", "m@v0.2.0"}).pop()
    assert (
        f"created tag {second_prod} and pushed it to origin together with m@v0.2.0, m@v0.1.0, "
        f"{first_prod} (one atomic push)"
    ) in done.stdout
    assert tags(remote) == {"m@v0.1.0", "m@v0.2.0", first_prod, second_prod}
    assert staging not in tags(remote)


def test_a_rejected_release_tag_publishes_no_stage_tag(
    unpublished: tuple[Path, Path], tmp_path: Path, clock: Clock
) -> None:
    """The remote already holds another m@v0.1.0 (say, made by hand elsewhere): the
    atomic push fails as a whole, so the stage tag is not published alone."""
    a, remote = unpublished
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    git(other, "tag", "-a", "-m", "not the same", "m@v0.1.0")
    git(other, "push", "-q", "origin", "m@v0.1.0")

    done = tether(a, "promote", "m", "v0.1.0", "prod", "--push", env=clock.env())
    assert done.returncode == 3, done.stdout
    assert "pushing m@v0.1.0 and m#prod#1 to 'origin' failed" in done.stderr
    assert "the local tag was deleted again and nothing was published" in done.stderr
    assert tags(remote) == {"m@v0.1.0"}
    assert "m#prod#1" not in tags(a)


def test_deregister_push_carries_the_release_tag(
    unpublished: tuple[Path, Path], clock: Clock
) -> None:
    a, remote = unpublished
    done = tether(a, "deregister", "m", "v0.2.0", "--push", env=clock.env())
    assert done.returncode == 0, done.stderr
    assert "pushed it to origin together with m@v0.2.0" in done.stdout
    assert tags(remote) == {"m@v0.2.0", "m@v0.2.0!"}


def _pre_push_hook(repo: Path, teammate: Path, tag: str) -> None:
    """Make ``repo``'s next push let ``teammate`` push ``tag`` first: a race made
    deterministic. The hook removes itself after one run."""
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        "cat >/dev/null\n"
        'rm -- "$0"\n'
        "unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n"
        f"git -C '{teammate}' push -q origin 'refs/tags/{tag}'\n",
        encoding="utf-8",
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


def test_a_push_that_raced_another_clone_reports_the_true_state(
    plain_registry: Path, tmp_path: Path, clock: Clock
) -> None:
    a = plain_registry
    tether(a, "promote", "m", "v0.1.0", "dev", check=True, env=clock.env())
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(a, "remote", "add", "origin", str(remote))
    git(a, "push", "-q", "origin", "--tags")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(b))

    # B unassigns #dev (m#dev!#2) and pushes it just after A read the remote's tags
    # and just before A's own push of m#dev#2: same counter, different names.
    tether(b, "unassign", "m", "dev", check=True, env=clock.env())
    _pre_push_hook(a, b, "m#dev!#2")
    done = tether(a, "promote", "m", "v0.2.0", "dev", "--push", env={**clock.env(), **_keep()})
    assert done.returncode == 0, done.stderr
    assert "created tag m#dev#2 and pushed it to origin" in done.stdout
    assert (
        "Meanwhile another clone pushed m#dev!#2 to origin; fetched now, "
        "and the state above includes it."
    ) in done.stdout
    assert "warning: m#dev#2 and m#dev!#2 share one counter" in done.stdout
    assert "Check `tether log m`" in done.stdout
    assert tags(remote) == tags(a) == {"m@v0.1.0", "m@v0.2.0", "m#dev#1", "m#dev#2", "m#dev!#2"}
    # What A was told is what the registry now says.
    now = json.loads(tether(a, "show", "--json", check=True).stdout)["m"]["stage"]["dev"]
    assert f"m #dev: v0.1.0 -> {now or '(none)'}" in done.stdout


def _keep() -> dict[str, str]:
    return {"PATH": os.environ["PATH"]}
