"""--push across two clones of one Git remote (a bare repository, real git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import git, tether
from tests.registry.conftest import Clock


def tags(root: Path) -> set[str]:
    return set(git(root, "tag", "-l").split())


@pytest.fixture
def clones(plain_registry: Path, tmp_path: Path, clock: Clock) -> tuple[Path, Path, Path]:
    """Clone A (plain_registry, m v0.1.0 in #dev), the bare remote, and clone B
    made from it with every tag."""
    a = plain_registry
    tether(a, "promote", "m", "v0.1.0", "dev", check=True, env=clock.env())
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(a, "remote", "add", "origin", str(remote))
    git(a, "push", "-q", "origin", "--tags")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(b))
    assert tags(b) == tags(a) == {"m@v0.1.0", "m@v0.2.0", "m#dev#1"}
    return a, remote, b


def test_push_from_a_stale_clone_is_refused_until_it_fetches(
    clones: tuple[Path, Path, Path], clock: Clock
) -> None:
    a, remote, b = clones
    ok = tether(a, "promote", "m", "v0.2.0", "dev", "--push", env=clock.env())
    assert ok.returncode == 0, ok.stderr
    assert "created tag m#dev#2 and pushed it to origin" in ok.stdout

    # B has not fetched: its unassign would be m#dev!#2, a different name with the
    # same counter, which git would accept. It is refused, and nothing is created.
    stale = tether(b, "unassign", "m", "dev", "--push", env=clock.env())
    assert stale.returncode == 2, stale.stdout
    assert (
        "the Git remote 'origin' has registry tags of m that this clone lacks (m#dev#2), "
        "so the registry state this command read is stale; no tag was created"
    ) in stale.stderr
    assert "git fetch --tags origin" in stale.stderr
    assert tags(b) == {"m@v0.1.0", "m@v0.2.0", "m#dev#1"}
    assert tags(remote) == {"m@v0.1.0", "m@v0.2.0", "m#dev#1", "m#dev#2"}
    # Deregistering and releasing are refused the same way.
    dereg = tether(b, "deregister", "m", "v0.1.0", "--push", env=clock.env())
    assert dereg.returncode == 2 and "this clone lacks (m#dev#2)" in dereg.stderr
    assert "m@v0.1.0!" not in tags(b)

    # After fetching, B sees v0.2.0 in #dev and its unassign takes counter 3.
    git(b, "fetch", "-q", "--tags", "origin")
    done = tether(b, "unassign", "m", "dev", "--push", env=clock.env())
    assert done.returncode == 0, done.stderr
    assert "created tag m#dev!#3 and pushed it to origin; m #dev: v0.2.0 -> v0.1.0" in done.stdout
    assert "local only" not in done.stdout
    # A successful push changes nothing else: both sides hold exactly the same tags.
    expected = {"m@v0.1.0", "m@v0.2.0", "m#dev#1", "m#dev#2", "m#dev!#3"}
    assert tags(remote) == tags(b) == expected


def test_remote_tags_of_other_artifacts_do_not_block(
    clones: tuple[Path, Path, Path], clock: Clock
) -> None:
    a, remote, b = clones
    git(a, "tag", "-a", "-m", "other", "other@v1.0.0")
    git(a, "push", "-q", "origin", "other@v1.0.0")
    done = tether(b, "promote", "m", "v0.2.0", "prod", "--push", env=clock.env())
    assert done.returncode == 0, done.stderr
    assert "created tag m#prod#2 and pushed it to origin" in done.stdout
    assert "m#prod#2" in tags(remote)


def test_counter_is_past_every_tag_on_the_remote(tmp_path: Path, clock: Clock) -> None:
    """A remote tag the clone lacks is refused; one it has locally under the same
    name is counted as usual (max of local and remote, plus one)."""
    from tether.backends.git import GitRepo
    from tether.registry import state
    from tether.release import actions as release

    root = tmp_path / "r"
    git(tmp_path, "init", "-q", str(root))
    git(root, "commit", "-q", "--allow-empty", "-m", "one")
    git(root, "tag", "-a", "-m", "m", "m@v0.1.0")
    git(root, "tag", "-a", "-m", "m", "m#dev#5")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "--tags")
    repo = GitRepo(root)
    assert sorted(repo.remote_tag_names("origin")) == ["m#dev#5", "m@v0.1.0"]
    taken, theirs = release._taken_names(repo, state.read(repo), "m", "origin")
    assert "m#dev#5" in taken and set(theirs) == {"m#dev#5", "m@v0.1.0"}
    change = release.promote(root, release.Names("m", "v0.1.0", "prod"), push=True)
    assert change.tag == "m#prod#6" and change.pushed_to == "origin"
