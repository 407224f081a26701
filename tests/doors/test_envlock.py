"""tether.envlock: the project's own uv.lock read at a commit of a real repository,
and every way a running environment differs from it named: another scikit-learn in a
second venv, another Python (a real interpreter, and one outside requires-python),
and a platform none of the lock's wheels run on."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import pytest
from packaging import tags as packaging_tags

from tests.conftest import PROJECT
from tests.helpers import commit_all, init_repo, write_tree
from tests.replay.conftest import SKLEARN_A, SKLEARN_B, venv_b  # noqa: F401  (a fixture)
from tether import envlock
from tether.backends.git import GitRepo
from tether.errors import ConfigError

LOCK = (PROJECT / "uv.lock").read_bytes()


@pytest.fixture
def locked_repo(tmp_path: Path) -> tuple[Path, str]:
    """A git repository whose commit holds the project's own uv.lock."""
    root = init_repo(tmp_path / "repo", dvc=False)
    write_tree(root, {"uv.lock": LOCK})
    return root, commit_all(root, "lock the environment")


def _other_python(version: str) -> str | None:
    """A real interpreter of another Python ``version`` on this machine, if any."""
    pyenv = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python{version}"))
    for candidate in [shutil.which(f"python{version}"), *map(str, pyenv)]:
        if candidate and envlock.running_in(candidate, Path.cwd()) is not None:
            return candidate
    return None


def test_the_lock_is_read_at_a_commit_through_git_and_in_the_work_tree(
    locked_repo: tuple[Path, str],
) -> None:
    root, commit = locked_repo
    with GitRepo(root) as git:
        lock = envlock.read(root, commit, git=git)
    assert lock is not None
    assert lock.requires_python == ">=3.11"
    assert lock.path == f"uv.lock at {commit[:8]}"
    [sklearn] = lock.named("scikit_learn")
    assert sklearn.version == SKLEARN_A and sklearn.sdist and sklearn.wheels
    assert [p.name for p in lock.packages if p.root] == ["tether"]

    # The work tree's lock is read from the file; the commit's stays the committed one.
    (root / "uv.lock").write_bytes(LOCK.replace(b'version = "1.9.1"', b'version = "9.9.9"'))
    [changed] = envlock.read(root).named("scikit-learn")
    assert changed.version == "9.9.9"
    [committed] = envlock.read(root, commit).named("scikit-learn")
    assert committed.version == SKLEARN_A
    assert envlock.read(root, "HEAD~1") is None  # the first commit had no lock


def test_a_lock_that_is_not_toml_is_refused_naming_it(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", dvc=False)
    write_tree(root, {"uv.lock": "version = 1\n[[package]\nname = 'x'\n"})
    commit = commit_all(root, "broken lock")
    with pytest.raises(ConfigError) as caught:
        envlock.read(root, commit)
    assert caught.value.message.startswith(f"uv.lock at {commit[:8]} is not a uv lock:")
    assert caught.value.hint == "Write it again with `uv lock`, then commit it."


def test_the_projects_own_environment_is_its_lock(locked_repo: tuple[Path, str]) -> None:
    root, commit = locked_repo
    assert envlock.differences(root, commit) == []
    assert envlock.differences(root, commit, now=envlock.running_in(sys.executable, root)) == []


def test_a_second_venv_with_another_scikit_learn_is_named(
    locked_repo: tuple[Path, str],
    venv_b: Path,  # noqa: F811
) -> None:
    root, commit = locked_repo
    other = envlock.running_in(str(venv_b / "python"), root)
    assert other is not None
    found = envlock.differences(root, commit, now=other)
    assert [(d.layer, d.subject, d.message) for d in found] == [
        (
            "packages",
            "scikit-learn",
            f"package scikit-learn: locked {SKLEARN_A}, installed {SKLEARN_B}",
        )
    ]
    assert found[0].fix.startswith("uv sync --frozen (or `make setup`)")


def test_missing_and_unlocked_packages_are_named(locked_repo: tuple[Path, str]) -> None:
    root, commit = locked_repo
    now = envlock.running()
    packages = {k: v for k, v in now.packages.items() if k != "scipy"}
    packages["left-pad"] = "1.0"
    found = envlock.differences(root, commit, now=dataclasses.replace(now, packages=packages))
    assert [d.message for d in found] == [
        "package scipy: locked 1.17.1, not installed",
        "package left-pad: installed 1.0, not in the lock",
    ]


def test_a_python_outside_requires_python_is_named(locked_repo: tuple[Path, str]) -> None:
    root, commit = locked_repo
    python = _other_python("3.10")
    if python is None:
        now = envlock.running()
        markers = {**now.markers, "python_full_version": "3.10.13", "python_version": "3.10"}
        other = dataclasses.replace(now, python="3.10.13", markers=markers)
    else:
        found = envlock.running_in(python, root)
        assert found is not None
        other = found
    messages = [d.message for d in envlock.differences(root, commit, now=other)]
    assert messages[0] == (
        f"Python {other.python} is outside the lock's requires-python >=3.11 "
        f"(uv.lock at {commit[:8]})"
    )


def test_another_python_than_the_commits_pin_is_named(locked_repo: tuple[Path, str]) -> None:
    root, _ = locked_repo
    write_tree(root, {".python-version": "3.11\n"})
    commit = commit_all(root, "pin Python 3.11 for uv")
    assert envlock.differences(root, commit) == []  # this interpreter is a 3.11
    python = _other_python("3.12")
    if python is None:
        pytest.skip("no Python 3.12 on this machine")
    other = envlock.running_in(python, root)
    assert other is not None
    found = [d for d in envlock.differences(root, commit, now=other) if d.layer == "python"]
    assert [d.message for d in found] == [
        f"Python {other.python} runs; the commit's .python-version names 3.11"
    ]
    assert "make setup PYTHON=python3.X" in found[0].fix


def test_a_platform_the_wheels_do_not_cover_is_named(locked_repo: tuple[Path, str]) -> None:
    root, commit = locked_repo
    now = envlock.running()
    platforms = ["musllinux_1_1_riscv64", "linux_riscv64"]
    tags = [
        *packaging_tags.cpython_tags((3, 11), platforms=platforms),
        *packaging_tags.compatible_tags((3, 11), platforms=platforms),
    ]
    markers = {**now.markers, "platform_machine": "riscv64"}
    riscv = dataclasses.replace(now, tags=tuple(str(t) for t in tags), markers=markers)
    found = {d.subject: d for d in envlock.differences(root, commit, now=riscv)}
    numpy = found["numpy"]
    assert numpy.layer == "platform"
    assert numpy.message.startswith(
        "platform: no wheel of numpy 2.4.6 in the lock runs on cp311-cp311-musllinux_1_1_riscv64 ("
    )
    assert numpy.message.endswith("; it would be built from its sdist here)")
    assert "semver" not in found  # a pure-Python wheel runs everywhere
    assert all(d.layer == "platform" for d in found.values())
