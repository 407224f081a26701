"""GTO's .gto file is honoured as GTO honours it; gto itself is the oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import BIN, git, run, tether, write_tree
from tests.registry.conftest import Clock, tag_annotated
from tether.errors import ConfigError, UsageError
from tether.registry import gto_config


def gto(root: Path, *args: str) -> str:
    return run(BIN / "gto", *args, cwd=root).stdout


def test_show_log_references_and_promote_follow_the_allowed_stages(
    plain_registry: Path, clock: Clock
) -> None:
    root = plain_registry
    # Assignments made before the allow-list existed (or by hand): qa is one of them.
    tag_annotated(root, "m#qa#1", "m@v0.1.0", env=clock.env())
    tether(root, "promote", "m", "v0.2.0", "prod", check=True, env=clock.env())
    write_tree(root, {".gto": "stages: [dev, prod]\ntypes: [model]\n"})

    ours = tether(root, "show", "--json", check=True).stdout
    assert ours == gto(root, "show", "--json")
    assert json.loads(ours)["m"]["stage"] == {"dev": None, "prod": "v0.2.0"}
    assert tether(root, "log", "--json", check=True).stdout == gto(root, "history", "--json")
    table = tether(root, "show", check=True).stdout
    assert table.splitlines()[0].split() == ["artifact", "latest", "#dev", "#prod"]

    # m#qa names nothing: qa is not a stage GTO knows.
    from tether.backends.git import GitRepo
    from tether.errors import UnknownRevision
    from tether.revisions import resolve

    with pytest.raises(UnknownRevision) as raised:
        resolve(GitRepo(root), "m#qa")
    assert "'qa' is not a stage in .gto (allowed stages: dev, prod)" in str(raised.value)
    assert resolve(GitRepo(root), "m#prod") == git(root, "rev-parse", "m@v0.2.0^{commit}")

    refused = tether(root, "promote", "m", "v0.1.0", "staging", env=clock.env())
    assert refused.returncode == 2
    assert "stage 'staging' is not allowed by .gto (allowed stages: dev, prod)" in refused.stderr
    assert "add 'staging' to `stages:` in .gto" in refused.stderr
    assert "m#staging" not in git(root, "tag", "-l")
    # gto refuses the same assignment.
    theirs = run(
        BIN / "gto",
        "assign",
        "m",
        "--version",
        "v0.1.0",
        "--stage",
        "staging",
        cwd=root,
        check=False,
    )
    assert theirs.returncode != 0
    assert "m#staging" not in git(root, "tag", "-l")


def test_a_typo_in_an_artifact_name_suggests_the_close_names(
    plain_registry: Path, clock: Clock
) -> None:
    root = plain_registry
    tag_annotated(root, "cancer-classifier@v0.1.0", env=clock.env())
    typo = tether(root, "promote", "cancer-classifer", "v0.1.0", "prod")
    assert typo.returncode == 2
    assert "no artifact 'cancer-classifer' in the registry" in typo.stderr
    assert "did you mean cancer-classifier?" in typo.stderr
    assert "Run the command again with cancer-classifier." in typo.stderr
    assert "tether release cancer-classifer" not in typo.stderr


def test_config_parsing_follows_gto() -> None:
    parsed = gto_config.parse(b"STAGES: [dev, prod]\nTypes: [model]\nINDEX: reg.yaml\n", {})
    assert parsed == gto_config.GtoConfig(["dev", "prod"], ["model"], "reg.yaml")
    # The environment wins over the file, as in GTO (pydantic settings).
    env = {"GTO_STAGES": '["a"]'}
    assert gto_config.parse(b"stages: [dev]\n", env).stages == ["a"]
    assert gto_config.parse(None, {}) == gto_config.GtoConfig()
    with pytest.raises(ConfigError, match="`stages` must be a list"):
        gto_config.parse(b"stages: prod\n", {})
    with pytest.raises(UsageError, match=r"has type 'data', which \.gto does not allow"):
        gto_config.GtoConfig(types=["model"]).require_type("x", "data")
