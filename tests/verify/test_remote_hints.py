"""A teammate's clone whose DVC remote is the template's in-clone default: verify
says the remote is unreachable (not that it lacks data) and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import git, tether

pytestmark = pytest.mark.slow


def test_the_in_clone_default_remote_of_a_fresh_clone_is_unreachable(
    template_repo: Path, tmp_path: Path
) -> None:
    teammate = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", str(template_repo), str(teammate))
    storage = teammate / ".dvc" / "storage"
    assert not storage.exists()
    result = tether(teammate, "verify", "HEAD", "--from-remote")
    assert result.returncode == 3, result.stdout
    assert f"DVC remote 'local' cannot be reached: its folder {storage} does not exist" in (
        result.stderr
    )
    assert "lacks data" not in result.stderr
    assert "is a folder inside this clone" in result.stderr
    assert "teammates cannot reach it" in result.stderr
    assert '"Moving a team to a shared remote"' in result.stderr


def test_an_in_clone_remote_that_lacks_data_points_at_tether_push(
    template_repo: Path,
) -> None:
    (template_repo / ".dvc" / "storage").mkdir(exist_ok=True)
    result = tether(template_repo, "verify", "HEAD", "--from-remote")
    assert result.returncode == 3, result.stdout
    assert "lacks data; missing for commit" in result.stderr
    assert "every release's data at once with `tether push`" in result.stderr
    assert "is a folder inside this clone" in result.stderr
