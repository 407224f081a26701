"""The DVC door itself (tether.backends.dvc), on a real DVC repository: the cache
layout read without a Repo object, rehashing, stage order and names, remotes,
and stage failures told apart. (DVC's lock left by a killed run is tested with a
real killed DVC in tests/pipeline/test_concurrency.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit_all, dvc, init_repo, write_tree
from tether.backends import dvc as door
from tether.errors import ConfigError, StageFailed

DVC_YAML = """\
stages:
  second:
    cmd: python -c "open('b.txt','w').write(open('a.txt').read()*2)"
    deps: [a.txt]
    outs: [b.txt]
  first:
    cmd: python -c "open('a.txt','w').write('a')"
    outs: [a.txt]
"""

SUB_DVC_YAML = """\
stages:
  fails:
    cmd: python -c "raise SystemExit(3)"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "repo")
    write_tree(repo, {"dvc.yaml": DVC_YAML, "sub/dvc.yaml": SUB_DVC_YAML})
    commit_all(repo, "two stages and one that fails")
    return repo


def test_stages_come_dependencies_first_with_the_names_users_type(project: Path) -> None:
    with door.open_repo(project) as repo:
        labels = [door.stage_label(repo, s) for s in door.pipeline_stages(repo)]
    assert labels.index("first") < labels.index("second")
    assert "sub/dvc.yaml:fails" in labels


def test_a_failing_command_is_a_stage_failure_not_a_dvc_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)  # DVC addresses stages from the working directory
    with door.open_repo(project) as repo:
        assert door.reproduce_stage(repo, "first") == "ran"
        assert door.reproduce_stage(repo, "first") == "up to date"
        with pytest.raises(StageFailed, match=r"stage 'sub/dvc\.yaml:fails' failed"):
            door.reproduce_stage(repo, "sub/dvc.yaml:fails")


def test_cached_outputs_are_found_by_md5_and_a_flipped_byte_is_named(project: Path) -> None:
    dvc(project, "repro", "-q", "second")
    with door.open_repo(project) as repo:
        outputs = {o.path: o for o in door.tracked_outputs(repo)}
    assert outputs["b.txt"].stage == "second" and outputs["b.txt"].cached
    md5 = outputs["b.txt"].md5
    assert md5 is not None
    cache = door.cache_dir(project)
    stored = door.cached_file(cache, md5)
    assert stored is not None and stored.read_bytes() == b"aa"
    assert door.corrupted_in_cache(cache, {md5: "b.txt"}) == []

    stored.chmod(0o644)
    stored.write_bytes(b"ab")  # DVC's state database still trusts this object
    [bad] = door.corrupted_in_cache(cache, {md5: "b.txt"})
    assert (bad.oid, bad.owner, bad.location) == (md5, "b.txt", str(stored))
    assert door.cached_file(cache, "not-a-hash") is None


def test_the_cache_directory_comes_from_config_local_first(project: Path, tmp_path: Path) -> None:
    assert door.cache_dir(project) == project / ".dvc" / "cache"
    elsewhere = tmp_path / "shared-cache"
    dvc(project, "cache", "dir", "--local", str(elsewhere))
    assert door.cache_dir(project) == elsewhere.resolve()


def test_remote_settings_name_the_missing_remote_and_how_to_add_one(project: Path) -> None:
    with pytest.raises(ConfigError, match="no default DVC remote") as caught:
        door.remote_settings(project)
    assert "dvc remote add -d" in (caught.value.hint or "")
    dvc(project, "remote", "add", "-d", "store", str(project.parent / "store"))
    name, settings = door.remote_settings(project)
    assert name == "store" and settings["url"] == str(project.parent / "store")
