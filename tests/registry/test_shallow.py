"""A clone that may lack some of the remote's tags (``git clone --depth``, CI's
default checkout, or ``--no-tags``) would read an older registry: ``NAME#prod``
naming a version since rolled back. Reads that depend on every tag refuse with the
fix, explicit versions and histories warn, and writes always refuse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, tether, write_tree
from tests.registry.conftest import Clock
from tether import revisions
from tether.backends.git import GitRepo
from tether.errors import TetherWarning

SHALLOW = "this clone is shallow (`git clone --depth`), so tags beyond its depth are missing"
UNSHALLOW = (
    "Fetch every tag: `git fetch --tags --unshallow` (CI: actions/checkout with `fetch-depth: 0`)."
)


@pytest.fixture
def remote(plain_registry: Path, tmp_path: Path, clock: Clock) -> Path:
    """m v0.2.0 promoted to prod, then prod rolled back to v0.1.0 (its tag is on the
    first commit), then a third commit: a clone two commits deep sees only the
    promotion of v0.2.0."""
    root = plain_registry
    tether(root, "promote", "m", "v0.2.0", "prod", check=True, env=clock.env())
    tether(root, "promote", "m", "v0.1.0", "prod", check=True, env=clock.env())
    # declared, so that `tether release m` gets as far as reading the registry
    write_tree(root, {"a.txt": "3", "dvc.yaml": "artifacts:\n  m:\n    path: a.txt\n"})
    commit_all(root, "three")
    assert "m#prod#2" in git(root, "tag", "-l")
    return root


def _clone(remote: Path, dest: Path, *options: str) -> Path:
    # --depth is ignored for a plain local path: a file:// URL makes it a real fetch.
    git(remote.parent, "clone", "-q", *options, f"file://{remote}", str(dest))
    return dest


def test_a_full_clone_names_the_version_in_prod(remote: Path, tmp_path: Path) -> None:
    full = _clone(remote, tmp_path / "full")
    proc = tether(full, "show", "m", "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"prod": "v0.1.0"' in proc.stdout
    assert proc.stderr == ""


def test_a_shallow_clone_refuses_to_name_a_stage_and_says_how_to_fetch(
    remote: Path, tmp_path: Path
) -> None:
    shallow = _clone(remote, tmp_path / "shallow", "--depth", "2")
    assert "m#prod#2" not in git(shallow, "tag", "-l"), "the rollback's tag is beyond depth 2"

    shown = tether(shallow, "show")
    assert shown.returncode == 2
    assert shown.stderr.splitlines() == [
        f"error: `tether show` needs every registry tag, and {SHALLOW}",
        f"{UNSHALLOW} Or, when every tag is already fetched: TETHER_ALLOW_INCOMPLETE_REGISTRY=1.",
    ]
    for command in (["verify", "m#prod"], ["verify", "m@latest"]):
        proc = tether(shallow, *command)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(
            f"error: resolving {command[1]} needs every registry tag, and {SHALLOW}\n"
        ), proc.stderr
        assert "bit-exact" not in proc.stdout + proc.stderr

    git(shallow, "fetch", "-q", "--tags", "--unshallow")
    fixed = tether(shallow, "show", "m", "--json")
    assert fixed.returncode == 0, fixed.stderr
    assert '"prod": "v0.1.0"' in fixed.stdout


def test_the_opt_out_turns_a_refused_read_into_a_warning(remote: Path, tmp_path: Path) -> None:
    shallow = _clone(remote, tmp_path / "shallow", "--depth", "2")
    proc = tether(
        shallow, "show", "m", "--json", env={**os.environ, "TETHER_ALLOW_INCOMPLETE_REGISTRY": "1"}
    )
    assert proc.returncode == 0, proc.stderr
    assert '"prod": "v0.2.0"' in proc.stdout  # what the tags here say, and said to be unsure
    assert proc.stderr == f"warning: `tether show` may be incomplete: {SHALLOW}. {UNSHALLOW}\n"


def test_writes_are_refused_whatever_the_opt_out(remote: Path, tmp_path: Path) -> None:
    shallow = _clone(remote, tmp_path / "shallow", "--depth", "2")
    before = git(shallow, "tag", "-l")
    for args in (["promote", "m", "v0.2.0", "prod"], ["rollback", "m", "prod"], ["release", "m"]):
        proc = tether(shallow, *args, env={**os.environ, "TETHER_ALLOW_INCOMPLETE_REGISTRY": "1"})
        assert proc.returncode == 2, proc.stderr
        assert f"needs every registry tag, and {SHALLOW}" in proc.stderr
        assert UNSHALLOW in proc.stderr and "TETHER_ALLOW_INCOMPLETE_REGISTRY" not in proc.stderr
    assert git(shallow, "tag", "-l") == before


def test_an_explicit_version_and_the_log_are_answered_with_a_warning(
    remote: Path, tmp_path: Path
) -> None:
    shallow = _clone(remote, tmp_path / "shallow", "--depth", "2")
    with GitRepo(shallow) as repo, pytest.warns(TetherWarning) as warned:
        commit = revisions.resolve(repo, "m@v0.2.0")
    assert commit == git(remote, "rev-parse", "m@v0.2.0^{commit}")
    assert [str(w.message) for w in warned] == [
        f"the registry state of m@v0.2.0 may be incomplete: {SHALLOW}. {UNSHALLOW}"
    ]
    missing = tether(shallow, "manifest", "m@v0.0.9")
    assert missing.returncode == 2
    assert f"It may be a tag this clone lacks: {SHALLOW}. {UNSHALLOW}" in missing.stderr
    log = tether(shallow, "log", "m")
    assert log.returncode == 0, log.stderr
    assert log.stderr == f"warning: `tether log` may be incomplete: {SHALLOW}. {UNSHALLOW}\n"


def test_a_clone_that_fetches_no_tags_is_named_with_its_own_fix(
    remote: Path, tmp_path: Path
) -> None:
    tagless = _clone(remote, tmp_path / "tagless", "--no-tags")
    proc = tether(tagless, "show")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: `tether show` needs every registry tag, and this clone fetches no tags from "
        "origin (`git clone --no-tags`)",
        "Fetch every tag: `git config --unset remote.origin.tagOpt && git fetch --tags origin` "
        "(CI: actions/checkout with `fetch-depth: 0`). Or, when every tag is already fetched: "
        "TETHER_ALLOW_INCOMPLETE_REGISTRY=1.",
    ]
    git(tagless, "config", "--unset", "remote.origin.tagOpt")
    git(tagless, "fetch", "-q", "--tags", "origin")
    assert tether(tagless, "show").returncode == 0


def test_push_from_a_shallow_clone_warns_that_it_checks_only_the_tags_here(
    remote: Path, tmp_path: Path
) -> None:
    shallow = _clone(remote, tmp_path / "shallow", "--depth", "2")
    proc = tether(shallow, "push")
    assert (
        "warning: `tether push` (the DVC data of releases whose tags are missing here) may be "
        f"incomplete: {SHALLOW}. {UNSHALLOW}\n"
    ) in proc.stderr
