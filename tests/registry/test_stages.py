"""promote, rollback, unassign, deregister and --push on a small git repo."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git, tether
from tests.registry.conftest import Clock, tag_annotated


def test_push_rejected_deletes_the_local_tag(
    plain_registry: Path, tmp_path: Path, clock: Clock
) -> None:
    root = plain_registry
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "--tags")
    # Another clone takes counter 1 first and publishes it.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    tag_annotated(other, "m#prod#1", "m@v0.2.0^{commit}", env=clock.env())
    git(other, "push", "-q", "origin", "m#prod#1")

    result = tether(root, "promote", "m", "v0.1.0", "prod", "--push", env=clock.env())
    assert result.returncode == 3
    assert (
        "pushing m#prod#1 to 'origin' failed, so the local tag was deleted again and nothing was published"
        in result.stderr
    )
    assert "git fetch --tags" in result.stderr
    assert "m#prod#1" not in git(root, "tag", "-l").split()

    # After fetching, the counter moves on and the push goes through.
    git(root, "fetch", "-q", "origin", "--tags")
    ok = tether(root, "promote", "m", "v0.1.0", "prod", "--push", env=clock.env())
    assert ok.returncode == 0, ok.stderr
    assert "created tag m#prod#2 and pushed it to origin; m #prod: v0.2.0 -> v0.1.0" in ok.stdout
    assert "m#prod#2" in git(remote, "tag", "-l").split()


def test_push_without_a_remote_creates_nothing(plain_registry: Path) -> None:
    result = tether(plain_registry, "promote", "m", "v0.1.0", "prod", "--push")
    assert result.returncode == 2
    assert "--push needs a Git remote: there is none" in result.stderr
    assert git(plain_registry, "tag", "-l").split() == ["m@v0.1.0", "m@v0.2.0"]


def test_promote_refusals(plain_registry: Path, clock: Clock) -> None:
    root = plain_registry
    missing = tether(root, "promote", "m", "v9.0.0", "prod")
    assert missing.returncode == 2 and "m has no version v9.0.0" in missing.stderr
    assert "Released versions: v0.1.0, v0.2.0." in missing.stderr
    unknown = tether(root, "promote", "nope", "v0.1.0", "prod")
    assert (
        unknown.returncode == 2
        and "no artifact 'nope' in the registry (released: m)" in unknown.stderr
    )
    tether(root, "promote", "m", "v0.1.0", "prod", check=True, env=clock.env())
    twice = tether(root, "promote", "m", "v0.1.0", "prod")
    assert twice.returncode == 2 and "m v0.1.0 is already in stage 'prod'" in twice.stderr
    bad_version = tether(root, "promote", "m", "0.1.0", "prod")
    assert bad_version.returncode == 2 and "invalid version '0.1.0'" in bad_version.stderr


def test_unassign_and_deregister(plain_registry: Path, clock: Clock) -> None:
    root = plain_registry
    tether(root, "promote", "m", "v0.2.0", "staging", check=True, env=clock.env())
    out = tether(root, "unassign", "m", "staging", check=True, env=clock.env()).stdout
    assert "created tag m#staging!#2; m #staging: v0.2.0 -> (none)" in out
    empty = tether(root, "unassign", "m", "staging")
    assert empty.returncode == 2 and "no version of m is in stage 'staging'" in empty.stderr
    out = tether(root, "deregister", "m", "v0.2.0", check=True, env=clock.env()).stdout
    assert "created tag m@v0.2.0!; m v0.2.0 is deregistered" in out
    assert tether(root, "show", check=True).stdout.split("\n")[1].split() == ["m", "v0.1.0"]
    gone = tether(root, "promote", "m", "v0.2.0", "prod")
    assert gone.returncode == 2 and "m v0.2.0 was deregistered" in gone.stderr


def test_show_and_log_text(plain_registry: Path, clock: Clock) -> None:
    root = plain_registry
    tether(root, "promote", "m", "v0.1.0", "prod", check=True, env=clock.env())
    shown = tether(root, "show", check=True).stdout.splitlines()
    assert shown[0].split() == ["artifact", "latest", "#prod"]
    assert shown[1].split() == ["m", "v0.2.0", "v0.1.0"]
    log = tether(root, "log", "m", check=True).stdout.splitlines()
    assert log[1].split()[3:6] == ["m", "assignment", "v0.1.0"]
    assert log[1].split()[-1] == "m#prod#1"
    unknown = tether(root, "show", "nope")
    assert unknown.returncode == 2 and "no artifact 'nope' in the registry" in unknown.stderr


def test_manifest_of_a_gto_release_says_there_is_none(plain_registry: Path) -> None:
    result = tether(plain_registry, "manifest", "m@v0.1.0")
    assert result.returncode == 2
    assert "tag m@v0.1.0 has no tether manifest" in result.stderr
    bad = tether(plain_registry, "manifest", "HEAD")
    assert bad.returncode == 2 and "'HEAD' is not a registry reference" in bad.stderr


def test_every_registry_command_has_an_example() -> None:
    for command in (
        "release",
        "promote",
        "rollback",
        "unassign",
        "deregister",
        "show",
        "log",
        "manifest",
    ):
        text = tether(Path.cwd(), command, "--help", check=True).stdout
        assert "Example" in text and f"tether {command}" in text, command


def test_show_and_log_of_an_empty_or_deprecated_registry(tmp_path: Path, clock: Clock) -> None:
    from tests.helpers import init_repo

    root = init_repo(tmp_path / "empty", dvc=False)
    assert "The registry is empty." in tether(root, "show", check=True).stdout
    assert tether(root, "show", "--json", check=True).stdout == "{}\n"
    assert tether(root, "log", "--json", check=True).stdout == "[]\n"
    tag_annotated(root, "m@v1.0.0", env=clock.env())
    tag_annotated(root, "m@deprecated", env=clock.env())
    assert tether(root, "show", "--json", check=True).stdout == "{}\n"
    gone = tether(root, "show", "m")
    assert gone.returncode == 2 and "m is deprecated (tag m@deprecated)" in gone.stderr
    events = [line.split()[4] for line in tether(root, "log", check=True).stdout.splitlines()[1:]]
    assert events == ["deprecation", "registration"]
