"""The report commands with their API replaced: flags in, words out."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import git
from tether.cli import app
from tether.report import build, github
from tether.report.model import Change, Report


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_report_passes_its_flags_and_says_what_was_cut(runner, monkeypatch, tmp_path: Path):
    seen = {}

    def fake_build(root, base, head, *, fail_on, releases, artifacts_url):
        seen.update(root=root, base=base, head=head, fail_on=fail_on, releases=releases, url=artifacts_url)
        params = [Change("params.yaml", f"p{i}", "a" * 190, "b" * 190) for i in range(400)]
        return Report(base=base, head="workspace", base_commit="1" * 40, head_commit=None, params=params)

    monkeypatch.setattr(build, "build_report", fake_build)
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q")
    out = tmp_path / "deep" / "report.md"
    result = runner.invoke(app, ["report", "--base", "main", "--fail-on", "f1<-0.01", "--releases", "3",
                                 "--artifacts-url", "https://x.test/run/1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert seen == dict(root=tmp_path, base="main", head=None, fail_on=["f1<-0.01"], releases=3,
                        url="https://x.test/run/1")
    body = out.read_text(encoding="utf-8")
    assert len(body) < 65_536
    [line] = result.output.splitlines()
    assert line.startswith(f"wrote {out} (") and "verdict none; left out 0 metrics and " in line
    assert line.endswith(" params rows)")


def test_comment_needs_exactly_one_way_to_name_the_pull_request(runner, monkeypatch, tmp_path: Path):
    body = tmp_path / "r.md"
    body.write_text("x", encoding="utf-8")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/churn")
    called = []
    monkeypatch.setattr(github, "upsert_comment", lambda *a, **k: called.append(a))
    neither = runner.invoke(app, ["comment", "--body-file", str(body)])
    repo_only = runner.invoke(app, ["comment", "--pr", "3", "--head-repo", "a/b", "--body-file", str(body)])
    assert "give either --pr N or --head-sha SHA" in str(neither.exception)
    assert "--head-repo goes with --head-sha" in str(repo_only.exception)
    assert called == []
