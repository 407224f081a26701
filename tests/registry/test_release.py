"""Releasing the example model: the issue's "done when" scenario and every refusal.

All on a private copy of the reproduced template project, with real git, DVC and
GTO; tag times come from the test clock.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import BIN, commit_all, dvc, git, run, tether, write_tree
from tests.registry.conftest import Clock

NAME = "cancer-classifier"
pytestmark = pytest.mark.slow


def gto(root: Path, *args: str) -> str:
    return run(BIN / "gto", *args, cwd=root).stdout


def tags(root: Path) -> list[str]:
    return git(root, "tag", "-l").split()


def test_release_promote_bump_rollback_agrees_with_gto(template_repo: Path, clock: Clock) -> None:
    root = template_repo
    first = tether(root, "release", NAME, env=clock.env())
    assert first.returncode == 0, first.stderr
    assert f"released {NAME} v0.1.0: created tag {NAME}@v0.1.0" in first.stdout
    assert first.stdout.splitlines()[-1] == (
        "The tag is local only. Next: publish it with `tether push` (or pass --push next time)."
    )
    tether(root, "promote", NAME, "v0.1.0", "prod", check=True, env=clock.env())

    write_tree(root, {"NOTES.md": "second release\n"})
    commit_all(root, "notes")
    second = tether(root, "release", NAME, "--bump", "minor", "--json", env=clock.env())
    assert second.returncode == 0, second.stderr
    released = json.loads(second.stdout)
    assert released["version"] == "v0.2.0" and released["tag"] == f"{NAME}@v0.2.0"
    promoted = tether(root, "promote", NAME, "v0.2.0", "prod", check=True, env=clock.env())
    assert f"{NAME} #prod: v0.1.0 -> v0.2.0" in promoted.stdout

    rolled = tether(root, "rollback", NAME, "prod", check=True, env=clock.env())
    assert f"created tag {NAME}#prod#3; {NAME} #prod: v0.2.0 -> v0.1.0" in rolled.stdout

    ours = tether(root, "show", "--json", check=True).stdout
    assert ours == gto(root, "show", "--json")
    assert json.loads(ours)[NAME] == {
        "version": "v0.2.0",
        "stage": {"prod": "v0.1.0"},
        "registered": True,
        "active": True,
    }
    assert tether(root, "log", "--json", check=True).stdout == gto(root, "history", "--json")

    # The tag holds a manifest of the build, and references resolve through it.
    manifest = json.loads(tether(root, "manifest", f"{NAME}#prod", "--json", check=True).stdout)
    first_commit = git(root, "rev-list", "-n1", f"{NAME}@v0.1.0")
    assert manifest["commit"] == first_commit and manifest["version"] == "v0.1.0"
    assert manifest["outs"]["models/model.pkl"] == _lock_md5(root, "models/model.pkl")
    assert set(manifest["metrics"]["reports/metrics.json"]) >= {"accuracy", "roc_auc"}
    assert manifest["params"]["params.yaml"]["dataset.target"] == "target"
    assert manifest["overrides"] == [] and manifest["packages"]["dvc"]
    assert manifest["platform"] and manifest["threads"]["cpu_count"] >= 1
    assert len(manifest["dvc_lock_sha256"]) == 64
    shown = tether(root, "manifest", f"{NAME}#prod", check=True).stdout
    assert "param params.yaml:dataset.target" in shown and "metric reports/metrics.json:f1" in shown
    message = git(root, "tag", "-l", "--format=%(contents:subject)", f"{NAME}@v0.1.0")
    assert message == f"Release {NAME} v0.1.0 (models/model.pkl) from commit {first_commit[:8]}"

    # Rolling back again: nothing held prod before v0.1.0.
    again = tether(root, "rollback", NAME, "prod")
    assert again.returncode == 2
    assert f"no version of {NAME} held stage 'prod' before v0.1.0" in again.stderr

    # Release pushed every DVC output to the default remote (.dvc/storage).
    status = dvc(root, "status", "--cloud", "--json").stdout
    assert json.loads(status) == {}


def _lock_md5(root: Path, path: str) -> str:
    import yaml

    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return next(
        o["md5"] for s in lock["stages"].values() for o in s.get("outs", []) if o["path"] == path
    )


def test_staged_but_uncommitted_file_is_refused_without_a_tag(template_repo: Path) -> None:
    root = template_repo
    write_tree(root, {"extra.txt": "not committed\n"})
    git(root, "add", "extra.txt")
    result = tether(root, "release", NAME)
    assert result.returncode == 1
    assert "the work tree has uncommitted changes to tracked files (extra.txt)" in result.stderr
    assert "git stash" in result.stderr
    assert tags(root) == []


def test_option_like_name_is_refused_before_git_runs(tmp_path: Path) -> None:
    # Not even a git repository here: the name is refused first.
    result = tether(tmp_path, "release", "--", "-x")
    assert result.returncode == 2
    assert "invalid artifact name '-x'" in result.stderr
    assert "not inside a git repository" not in result.stderr


@pytest.mark.parametrize("name", ["a..b", "a//b", "my model", "m@{1}", "m\n"])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    result = tether(tmp_path, "promote", name, "v0.1.0", "prod")
    assert result.returncode == 2
    assert "invalid artifact name" in result.stderr


def test_stale_pipeline_is_refused_without_a_tag(template_repo: Path) -> None:
    root = template_repo
    with (root / "src/tabular_classifier/evaluate.py").open("a") as fh:
        fh.write("# changed\n")
    commit_all(root, "change a dependency without running the pipeline")
    result = tether(root, "release", NAME)
    assert result.returncode == 1
    assert "`tether check` fails" in result.stderr
    assert "stage 'evaluate' is out of date" in result.stderr
    assert tags(root) == []


def test_undeclared_artifact_is_refused(template_repo: Path) -> None:
    result = tether(template_repo, "release", "not-declared")
    assert result.returncode == 2
    assert "'not-declared' is not declared under `artifacts:` in dvc.yaml" in result.stderr
    assert "Declared: cancer-classifier" in result.stderr


def test_no_dvc_remote_is_an_error_without_a_tag(template_repo: Path) -> None:
    root = template_repo
    dvc(root, "remote", "default", "--unset")
    commit_all(root, "no default remote")
    result = tether(root, "release", NAME)
    assert result.returncode == 2
    assert "no default DVC remote is configured" in result.stderr
    assert "dvc remote add -d" in result.stderr
    assert tags(root) == []


def test_failed_dvc_push_creates_no_tag(template_repo: Path) -> None:
    root = template_repo
    write_tree(root, {"blocker": "a file where the remote's directory should be\n"})
    dvc(root, "remote", "modify", "local", "url", str(root / "blocker"))
    git(root, "add", "-f", "blocker")
    commit_all(root, "remote that cannot be written")
    result = tether(root, "release", NAME)
    assert result.returncode == 3, result.stderr
    assert "dvc push to remote 'local' failed" in result.stderr
    assert tags(root) == []


def test_existing_version_is_never_overwritten(template_repo: Path) -> None:
    root = template_repo
    git(root, "tag", f"{NAME}@v0.1.0")  # lightweight: ignored when reading, still taken
    result = tether(root, "release", NAME, "--version", "v0.1.0")
    assert result.returncode == 2
    assert f"tag {NAME}@v0.1.0 already exists; tether never overwrites a tag" in result.stderr


def test_release_push_publishes_the_tag(template_repo: Path, tmp_path: Path) -> None:
    root = template_repo
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    result = tether(root, "release", NAME, "--push")
    assert result.returncode == 0, result.stderr
    assert "and pushed it to origin" in result.stdout
    assert "local only" not in result.stdout
    assert git(remote, "tag", "-l") == f"{NAME}@v0.1.0"


def test_ref_must_be_the_checked_out_commit(template_repo: Path) -> None:
    result = tether(template_repo, "release", NAME, "--ref", "HEAD~1")
    assert result.returncode == 2
    assert "--ref HEAD~1 is not the checked-out commit" in result.stderr
    assert "git checkout HEAD~1" in result.stderr
    both = tether(template_repo, "release", NAME, "--version", "v1.0.0", "--bump", "minor")
    assert both.returncode == 2 and "give --version or --bump, not both" in both.stderr
    bump = tether(template_repo, "release", NAME, "--bump", "huge")
    assert bump.returncode == 2 and "'huge' is not one of 'major', 'minor', 'patch'" in bump.stderr
    assert tags(template_repo) == []


def test_a_new_version_goes_above_a_withdrawn_one_and_a_commit_has_one_live_version(
    template_repo: Path, clock: Clock
) -> None:
    root = template_repo
    tether(root, "release", NAME, check=True, env=clock.env())  # v0.1.0
    write_tree(root, {"NOTES.md": "a change no stage reads\n"})
    commit_all(root, "notes")
    tether(root, "release", NAME, check=True, env=clock.env())  # v0.1.1
    tether(root, "deregister", NAME, "v0.1.1", check=True, env=clock.env())
    again = tether(root, "release", NAME, env=clock.env())
    assert again.returncode == 0, again.stderr
    assert f"released {NAME} v0.1.2" in again.stdout  # not v0.1.1 again, nor below it
    twice = tether(root, "release", NAME, env=clock.env())
    assert twice.returncode == 2
    assert "is already released as cancer-classifier v0.1.2" in twice.stderr
    assert "`tether promote cancer-classifier v0.1.2 STAGE`" in twice.stderr
