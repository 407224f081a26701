"""promote, rollback, unassign, deregister and --push on a small git repo."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git, tether
from tests.registry.conftest import Clock, tag_annotated


def test_push_rejected_deletes_the_local_tag(plain_registry: Path, tmp_path: Path) -> None:
    root = plain_registry
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "--tags")
    # The remote refuses every push (as a host does without write permission).
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'no write access' >&2\nexit 1\n")
    hook.chmod(0o755)

    result = tether(root, "promote", "m", "v0.1.0", "prod", "--push")
    assert result.returncode == 3
    assert (
        "pushing m#prod#1 to 'origin' failed, so the local tag was deleted again and nothing was published"
        in result.stderr
    )
    assert "no write access" in result.stderr
    assert "git fetch --tags" in result.stderr
    assert "m#prod#1" not in git(root, "tag", "-l").split()
    assert git(remote, "tag", "-l").split() == ["m@v0.1.0", "m@v0.2.0"]


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
    assert "did you mean v0.1.0?" in bad_version.stderr
    assert "Run the command again with v0.1.0." in bad_version.stderr
    tags = git(root, "tag", "-l")
    for stage, said in (("latest", "NAME@latest already means"), ("s" * 300, "at most 64")):
        refused = tether(root, "promote", "m", "v0.1.0", stage)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert git(root, "tag", "-l") == tags
    nothing = tether(root, "rollback", "m", "staging")
    assert nothing.returncode == 2 and "nothing to roll back" in nothing.stderr
    assert "`tether promote m VERSION staging`" in nothing.stderr


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
    assert "Run `tether show`." in unknown.stderr
    typo = tether(root, "log", "mm")
    assert typo.returncode == 2 and "did you mean m?" in typo.stderr


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


def test_log_of_an_unknown_artifact_is_a_usage_error_like_show(
    plain_registry: Path, tmp_path: Path
) -> None:
    unknown = tether(plain_registry, "log", "nosuch")
    assert unknown.returncode == 2
    assert "no artifact 'nosuch' in the registry (released: m)" in unknown.stderr
    assert "No registry events." not in unknown.stdout
    as_json = tether(plain_registry, "log", "nosuch", "--json")
    assert as_json.returncode == 2 and as_json.stdout == ""
    from tests.helpers import init_repo

    empty = init_repo(tmp_path / "empty", dvc=False)
    none = tether(empty, "log", "nosuch")
    assert none.returncode == 2
    assert "no artifact 'nosuch' in the registry (released: none yet)" in none.stderr


def test_deregister_says_what_became_of_its_stages(plain_registry: Path, clock: Clock) -> None:
    import json

    root = plain_registry
    for version, stage in (("v0.1.0", "prod"), ("v0.2.0", "prod"), ("v0.2.0", "staging")):
        tether(root, "promote", "m", version, stage, check=True, env=clock.env())
    out = tether(root, "deregister", "m", "v0.2.0", check=True, env=clock.env()).stdout
    lines = out.splitlines()
    assert lines[0] == "created tag m@v0.2.0!; m v0.2.0 is deregistered"
    assert lines[1] == "It held #prod, #staging: #prod now holds v0.1.0; #staging is now empty."
    done = tether(root, "deregister", "m", "v0.1.0", "--json", check=True, env=clock.env())
    assert json.loads(done.stdout) == {
        "artifact": "m",
        "version": "v0.1.0",
        "tag": "m@v0.1.0!",
        "commit": git(root, "rev-parse", "m@v0.1.0^{commit}"),
        "pushed_to": None,
        "stages": {"prod": None},
    }


def test_writes_without_push_end_with_how_to_publish(plain_registry: Path, clock: Clock) -> None:
    root = plain_registry
    # `tether push`, never `git push origin m#prod#1`: that would publish a stage tag
    # without the release tag it points through.
    hint = "The tag is local only. Next: publish it with `tether push` (or pass --push next time)."
    steps = [
        ("promote", "m", "v0.1.0", "prod"),
        ("promote", "m", "v0.2.0", "prod"),
        ("rollback", "m", "prod"),
        ("unassign", "m", "prod"),
        ("deregister", "m", "v0.2.0"),
    ]
    for args in steps:
        out = tether(root, *args, check=True, env=clock.env()).stdout
        assert out.splitlines()[-1] == hint, args


def test_bump_lists_its_choices(tmp_path: Path) -> None:
    text = tether(tmp_path, "release", "--help", check=True).stdout
    assert "--bump <major|minor|patch>" in text
    bad = tether(tmp_path, "release", "m", "--bump", "huge")
    assert bad.returncode == 2
    assert "'huge' is not one of 'major', 'minor', 'patch'" in bad.stderr


def test_a_deregistered_release_keeps_its_manifest(plain_registry: Path, clock: Clock) -> None:
    import json

    from tether.backends.git import GitRepo
    from tether.registry import manifest as manifests

    root = plain_registry
    commit = git(root, "rev-parse", "HEAD")
    built = manifests.Manifest(
        artifact="m", version="v0.3.0", path="model.pkl", commit=commit,
        dvc_lock_sha256="0" * 64, metrics={"metrics.json": {"acc": 0.9}}, params={},
        outs={"model.pkl": "a" * 32}, deps={}, overrides=[], python="3.12.0", packages={},
    )  # fmt: skip
    git(root, "tag", "-d", "m@v0.2.0")  # one version per commit
    tag_annotated(
        root, "m@v0.3.0", message=manifests.render(built, "Release m v0.3.0"), env=clock.env()
    )
    tether(root, "promote", "m", "v0.3.0", "prod", check=True, env=clock.env())
    tether(root, "deregister", "m", "v0.3.0", check=True, env=clock.env())

    from tether.revisions import release

    record = release(root, "m@v0.3.0").record
    assert record is not None
    assert record.deregistered == "m@v0.3.0!" and record.manifest == built
    # verify's path: the reference resolves (through the tag of that name) and
    # its manifest is found.
    from tether.revisions import target

    with GitRepo(root) as g:
        found = target(g, "m@v0.3.0")
    assert (found.commit, found.manifest) == (commit, built)
    shown = tether(root, "manifest", "m@v0.3.0", check=True).stdout
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in shown.splitlines()}
    assert rows["deregistered"] == "yes, by tag m@v0.3.0!"
    data = json.loads(tether(root, "manifest", "m@v0.3.0", "--json", check=True).stdout)
    assert data["deregistered"] == "m@v0.3.0!" and data["outs"] == {"model.pkl": "a" * 32}
    # It is in no stage and not latest any more.
    gone = tether(root, "manifest", "m#prod")
    assert gone.returncode == 2 and "no release m#prod" in gone.stderr
    live = json.loads(tether(root, "manifest", "m@v0.1.0", "--json").stdout or "{}")
    assert live == {}  # a GTO release: no manifest, as before
