"""The framework's tests run on tests/fixtures/template, a copy of the stock
example, never on the example in this checkout, which a user may have adopted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import (
    FIXTURE_TEMPLATE,
    PROJECT,
    TEMPLATE_PATHS,
    example_replaced,
    fixture_name,
)
from tests.helpers import git


def test_the_session_template_is_built_from_the_fixture(reproduced_template: Path) -> None:
    for rel in ("dvc.yaml", ".dvc/config", "conf/config.yaml", "src/tabular_classifier/train.py"):
        stored = FIXTURE_TEMPLATE / fixture_name(rel)
        assert (reproduced_template / rel).read_bytes() == stored.read_bytes()


def test_the_fixture_is_no_pipeline_of_the_project() -> None:
    """DVC and tether find pipelines by file name: the fixture holds none."""
    names = {p.name for p in FIXTURE_TEMPLATE.rglob("*")}
    assert not names & {"dvc.yaml", "dvc.lock", ".dvc", ".gitignore", ".dvcignore"}


def test_the_fixture_is_the_stock_example_while_the_example_is_unchanged() -> None:
    """Developers changing the example change the fixture with it; once a user has
    replaced the example, the fixture stays the stock one."""
    why = example_replaced()
    if why is not None:
        pytest.skip(f"the example project was replaced ({why})")
    tracked = set(git(PROJECT, "ls-files", "--", *TEMPLATE_PATHS).splitlines())
    for rel in sorted(tracked):
        ours, fixture = PROJECT / rel, FIXTURE_TEMPLATE / fixture_name(rel)
        assert fixture.is_file(), f"{rel} is missing from {FIXTURE_TEMPLATE} (run `make fixture`)"
        assert ours.read_bytes() == fixture.read_bytes(), (
            f"{rel} differs from the fixture copy (run `make fixture`)"
        )


def test_an_adopted_template_is_recognised(tmp_path: Path) -> None:
    """README's adoption steps 4 and 5 (dataset: mine, artifact renamed)."""
    for rel in ("conf", "dvc.yaml", "src/tabular_classifier"):
        source = FIXTURE_TEMPLATE / fixture_name(rel)
        if source.is_dir():
            shutil.copytree(source, tmp_path / rel)
        else:
            shutil.copy(source, tmp_path / rel)
    assert example_replaced(tmp_path) is None
    config = tmp_path / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("dataset: breast_cancer", "dataset: mine"))
    assert example_replaced(tmp_path) == "conf/config.yaml no longer uses the breast_cancer dataset"
