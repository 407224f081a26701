"""tether and GTO read the same registry the same way, whichever tool wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import BIN, commit_all, git, init_repo, run, tether, write_tree
from tests.registry.conftest import Clock


def gto(root: Path, *args: str) -> str:
    return run(BIN / "gto", *args, cwd=root).stdout


def test_gto_written_registry_reads_the_same_in_tether(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", dvc=False)
    gto(root, "register", "clf", "HEAD")
    write_tree(root, {"x.txt": "x"})
    commit_all(root, "second")
    gto(root, "register", "clf", "HEAD", "--bump-minor")
    gto(root, "register", "other", "HEAD", "--version", "v1.0.0")
    gto(root, "assign", "clf", "--version", "v0.0.1", "--stage", "prod")
    gto(root, "assign", "clf", "--version", "v0.1.0", "--stage", "staging")
    gto(root, "assign", "other", "--version", "v1.0.0", "--stage", "dev")
    gto(root, "deprecate", "clf", "v0.1.0", "staging")  # GTO's unassign
    gto(root, "deprecate", "clf", "v0.0.1")  # GTO's deregister
    git(root, "tag", "clf#prod#99")  # lightweight: ignored by both

    assert tether(root, "show", "--json", check=True).stdout == gto(root, "show", "--json")
    ours = json.loads(tether(root, "log", "--json", check=True).stdout)
    theirs = json.loads(gto(root, "history", "--json"))
    # Same events with the same fields and values; GTO orders events of one second
    # by its priority table, tether by counter, so compare them as sets here.
    key = lambda e: e["ref"]  # noqa: E731
    assert sorted(ours, key=key) == sorted(theirs, key=key)
    assert {e["event"] for e in ours} == {
        "registration",
        "deregistration",
        "assignment",
        "unassignment",
    }
    shown = tether(root, "show", check=True).stdout
    assert "clf" in shown and "other" in shown and "#dev" in shown


def test_tether_written_stage_tags_read_the_same_in_gto(plain_registry: Path, clock: Clock) -> None:
    root = plain_registry
    steps = [
        ("promote", "m", "v0.1.0", "prod"),
        ("promote", "m", "v0.2.0", "staging"),
        ("promote", "m", "v0.2.0", "prod"),
        ("rollback", "m", "prod"),
        ("unassign", "m", "staging"),
        ("deregister", "m", "v0.2.0"),
    ]
    for step in steps:
        tether(root, *step, check=True, env=clock.env())
    assert git(root, "tag", "-l").split() == [
        "m#prod#1", "m#prod#3", "m#prod#4", "m#staging!#5", "m#staging#2",
        "m@v0.1.0", "m@v0.2.0", "m@v0.2.0!",
    ]  # fmt: skip
    assert tether(root, "show", "--json", check=True).stdout == gto(root, "show", "--json")
    assert tether(root, "log", "--json", check=True).stdout == gto(root, "history", "--json")
    assert json.loads(gto(root, "show", "--json"))["m"] == {
        "version": "v0.1.0",
        "stage": {"prod": "v0.1.0"},
        "registered": True,
        "active": True,
    }
