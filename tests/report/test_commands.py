"""The report commands with their API replaced: flags in, words out."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import git
from tether.cli import app
from tether.report import api as report_api
from tether.report import github
from tether.report.model import Change, Report


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_report_passes_its_flags_and_says_what_was_cut(runner, monkeypatch, tmp_path: Path):
    seen = {}

    def fake_build(root, base, head, *, fail_on, releases, artifacts_url):
        seen.update(
            root=root, base=base, head=head, fail_on=fail_on, releases=releases, url=artifacts_url
        )
        params = [Change("params.yaml", f"p{i}", "a" * 190, "b" * 190) for i in range(400)]
        return Report(
            base=base, head="workspace", base_commit="1" * 40, head_commit=None, params=params
        )

    monkeypatch.setattr(report_api, "build_report", fake_build)
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q")
    out = tmp_path / "deep" / "report.md"
    result = runner.invoke(
        app,
        [
            "report",
            "--base",
            "main",
            "--fail-on",
            "f1<-0.01",
            "--releases",
            "3",
            "--artifacts-url",
            "https://x.test/run/1",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen == dict(
        root=tmp_path,
        base="main",
        head=None,
        fail_on=["f1<-0.01"],
        releases=3,
        url="https://x.test/run/1",
    )
    body = out.read_text(encoding="utf-8")
    assert len(body) < 65_536
    [line] = result.output.splitlines()
    assert line.startswith(f"wrote {out} (") and "verdict none; left out 0 metrics and " in line
    assert line.endswith(" params rows)")


def _report_cli(monkeypatch, capsys, tmp_path: Path, *args: str) -> tuple[int, str, str, list]:
    """``tether report ARGS`` through ``tether.cli.main`` (errors become words and
    exit codes there), with the report built from nothing."""
    from tether.cli import main

    built = []

    def fake_build(root, base, head, **kw):
        built.append(base)
        return Report(base=base, head="workspace", base_commit="1" * 40, head_commit=None)

    monkeypatch.setattr(report_api, "build_report", fake_build)
    git(tmp_path, "init", "-q")
    with pytest.raises(SystemExit) as exited:
        main(["report", "--base", "main", "-C", str(tmp_path), *args])
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err, built


def test_report_output_that_is_a_directory_is_a_usage_error(monkeypatch, capsys, tmp_path: Path):
    code, _, err, built = _report_cli(monkeypatch, capsys, tmp_path, "-o", str(tmp_path))
    assert code == 2
    assert (
        err
        == f"error: --output {tmp_path} is a directory\nName the file to write, e.g. -o {tmp_path}/report.md\n"
    )
    assert built == []  # refused before any work


def test_report_output_is_written_atomically_creating_parents(monkeypatch, capsys, tmp_path: Path):
    target = tmp_path / "new" / "dir" / "r.md"
    code, out, _, _ = _report_cli(monkeypatch, capsys, tmp_path, "-o", str(target))
    assert code == 0 and out.startswith(f"wrote {target} (")
    assert target.read_text(encoding="utf-8").startswith(
        "## :information_source: tether: no gates configured"
    )
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.md"]  # no temporary file left
    blocked = tmp_path / "file"
    blocked.write_text("x", encoding="utf-8")
    code, _, err, _ = _report_cli(monkeypatch, capsys, tmp_path, "-o", str(blocked / "r.md"))
    assert code == 2
    assert err.startswith(f"error: cannot write the report to {blocked}/r.md: ")


def test_report_help_says_how_the_file_is_written(runner):
    result = runner.invoke(app, ["report", "--help"], terminal_width=200)
    assert (
        "atomically (a temporary file renamed over it), creating missing parent directories."
        in " ".join(result.output.split())
    )


def test_comment_needs_exactly_one_way_to_name_the_pull_request(
    runner, monkeypatch, tmp_path: Path
):
    body = tmp_path / "r.md"
    body.write_text("x", encoding="utf-8")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/churn")
    called = []
    monkeypatch.setattr(report_api, "upsert_comment", lambda *a, **k: called.append(a))
    neither = runner.invoke(app, ["comment", "--body-file", str(body)])
    repo_only = runner.invoke(
        app, ["comment", "--pr", "3", "--head-repo", "a/b", "--body-file", str(body)]
    )
    assert "give either --pr N or --head-sha SHA" in str(neither.exception)
    assert "--head-repo goes with --head-sha" in str(repo_only.exception)
    assert called == []


def test_comment_names_the_github_repository_with_github_repo(runner, monkeypatch, tmp_path: Path):
    """-C/--repo is a path in every other command; the GitHub OWNER/NAME is --github-repo."""
    body = tmp_path / "r.md"
    body.write_text("x", encoding="utf-8")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/churn")
    seen = []

    def fake_upsert(client, number, text):
        seen.append((client.settings.repository, number, text))
        return github.CommentResult("created", client.settings.repository, number, 1, "", "bot", 0)

    monkeypatch.setattr(report_api, "upsert_comment", fake_upsert)
    given = runner.invoke(
        app, ["comment", "--pr", "3", "--github-repo", "fork/other", "--body-file", str(body)]
    )
    default = runner.invoke(app, ["comment", "--pr", "4", "--body-file", str(body)])
    old = runner.invoke(
        app, ["comment", "--pr", "5", "--repo", "fork/other", "--body-file", str(body)]
    )
    assert given.exit_code == 0 and default.exit_code == 0, given.output + default.output
    assert seen == [("fork/other", 3, "x"), ("acme/churn", 4, "x")]
    assert old.exit_code == 2 and "No such option: --repo" in old.output
    help_text = " ".join(
        runner.invoke(app, ["comment", "--help"], terminal_width=200).output.split()
    )
    assert (
        "--github-repo OWNER/NAME The GitHub repository of the pull request; default $GITHUB_REPOSITORY."
        in help_text
    )
