"""The real ``tether comment`` command against a GitHub stand-in served on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import tether
from tests.report.fake_github import FakeGitHub, serve
from tether.report.github import CUT_NOTICE

TOKEN = "ghs_e2eS3cretInstallationToken"
MARKER = "<!-- tether:pr-report -->"


@pytest.fixture
def github():
    fake = FakeGitHub(users={TOKEN: "github-actions[bot]", "pat": "mallory"}, app_tokens={TOKEN})
    with serve(fake) as url:
        yield fake, url


def _env(url: str, token: str = TOKEN) -> dict[str, str]:
    env = dict(os.environ)
    env.update(GITHUB_TOKEN=token, GITHUB_REPOSITORY="acme/churn", GITHUB_API_URL=url)
    env.pop("GITHUB_GRAPHQL_URL", None)
    return env


@pytest.mark.slow
def test_comment_is_created_once_then_updated_and_others_are_left_alone(github, tmp_path: Path):
    fake, url = github
    fake.max_per_page = 2
    fake.add_comment(12, "mallory", f"{MARKER}\nnot the real report")
    for i in range(3):
        fake.add_comment(12, "reviewer", f"review {i}")
    fake.fail("POST", 503, {"Retry-After": "0"}, {"message": "Service Unavailable"})
    body = tmp_path / "report.md"
    body.write_text("## tether report\n\n**pass**: no gate breached\n", encoding="utf-8")

    first = tether(tmp_path, "comment", "--pr", "12", "--body-file", str(body), env=_env(url))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("created comment ") and lines[0].endswith(
        " on acme/churn#12 as github-actions[bot]"
    )
    assert lines[2] == "left alone 1 marked comment(s) written by other users"

    body.write_text("## tether report\n\n**fail**: f1 dropped\n", encoding="utf-8")
    second = tether(
        tmp_path, "comment", "--pr", "12", "--body-file", str(body), "--json", env=_env(url)
    )
    assert second.returncode == 0, second.stderr
    assert '"action": "updated"' in second.stdout

    ours = [c for c in fake.comments[12] if c["user"]["login"] == "github-actions[bot]"]
    assert (
        len(ours) == 1
        and ours[0]["body"] == f"{MARKER}\n## tether report\n\n**fail**: f1 dropped\n"
    )
    assert fake.comments[12][0]["body"] == f"{MARKER}\nnot the real report"
    # GET /user refused (installation token), then GraphQL; lists paged by Link headers
    assert ("GET", "/user") in fake.requests and ("POST", "/graphql") in fake.requests
    assert any("page=3" in target for _, target in fake.requests)
    for stream in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert TOKEN not in stream


@pytest.mark.slow
def test_refusals_exit_1_with_githubs_words_and_never_the_token(github, tmp_path: Path):
    fake, url = github
    body = tmp_path / "report.md"
    body.write_text("report", encoding="utf-8")

    bad = tether(
        tmp_path,
        "comment",
        "--pr",
        "3",
        "--body-file",
        str(body),
        env=_env(url, "ghp_wrongTOKENvalue"),
    )
    assert bad.returncode == 1
    assert "error: GitHub refused GET /user (401): Bad credentials" in bad.stderr
    assert "ghp_wrongTOKENvalue" not in bad.stdout + bad.stderr

    # Longer than GitHub takes: what is sent is cut to fit, with a notice.
    body.write_text("x" * 70_000, encoding="utf-8")
    long = tether(tmp_path, "comment", "--pr", "3", "--body-file", str(body), env=_env(url))
    assert long.returncode == 0, long.stderr
    posted = fake.comments[3][-1]["body"]
    assert len(posted) <= 65_536 and posted.endswith(CUT_NOTICE)
    assert TOKEN not in long.stdout + long.stderr

    missing = tether(tmp_path, "comment", "--pr", "3", "--body-file", "nope.md", env=_env(url))
    assert missing.returncode == 2 and "body file nope.md does not exist" in missing.stderr


@pytest.mark.slow
def test_the_pull_request_is_found_from_the_head_sha(github, tmp_path: Path):
    fake, url = github
    sha = "ab" * 20
    fake.add_pull(21, sha, "fork-owner/churn")
    body = tmp_path / "report.md"
    body.write_text("report", encoding="utf-8")
    args = (
        "comment",
        "--head-sha",
        sha,
        "--head-repo",
        "fork-owner/churn",
        "--body-file",
        str(body),
    )
    done = tether(tmp_path, *args, env=_env(url))
    assert done.returncode == 0, done.stderr
    assert " on acme/churn#21 as github-actions[bot]" in done.stdout
    assert [c["body"] for c in fake.comments[21]] == [f"{MARKER}\nreport"]

    body.write_bytes(b"x" * (1024 * 1024 + 1))
    big = tether(tmp_path, *args, env=_env(url))
    assert (
        big.returncode == 2 and "is larger than 1,048,576 bytes; refusing to post it" in big.stderr
    )

    both = tether(tmp_path, "comment", "--pr", "1", *args[1:], env=_env(url))
    assert both.returncode == 2 and "give either --pr N or --head-sha SHA" in both.stderr
