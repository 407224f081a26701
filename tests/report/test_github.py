"""``tether.report.github`` against an in-memory GitHub (httpx.MockTransport).

No test sleeps: the client gets a recording ``sleep`` and a fixed clock.
"""

from __future__ import annotations

import httpx
import pytest

from tests.report.fake_github import FakeGitHub
from tether.errors import ConfigError, ExternalError, UsageError
from tether.report.github import (
    COMMENT_LIMIT,
    CUT_NOTICE,
    MARKER,
    CommentTooLong,
    GitHubClient,
    GitHubRefused,
    GitHubSettings,
    defuse,
    find_pull_request,
    settings_from_env,
    upsert_comment,
)

TOKEN = "ghp_s3cr3tT0kenValue"
NOW = 1_800_000_000.0


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub(
        users={TOKEN: "tether-bot", "other": "mallory", "app": "github-actions[bot]"},
        app_tokens={"app"},
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client_for(fake: FakeGitHub, sleeps: list[float], token: str = TOKEN, **kw) -> GitHubClient:
    settings = GitHubSettings(token=token, repository="acme/churn", api_url=fake.base_url)
    return GitHubClient(
        settings, transport=fake.transport(), sleep=sleeps.append, clock=lambda: NOW, **kw
    )


# creating and updating -------------------------------------------------------


def test_first_post_creates_a_marked_comment_and_the_second_updates_it(fake, sleeps):
    with client_for(fake, sleeps) as client:
        first = upsert_comment(client, 7, "## Report\nf1 0.91")
        second = upsert_comment(client, 7, "## Report\nf1 0.93")
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment_id == second.comment_id
    [comment] = fake.comments[7]
    assert comment["body"] == f"{MARKER}\n## Report\nf1 0.93"
    assert second.author == "tether-bot" and second.url.endswith(f"#issuecomment-{comment['id']}")
    assert sleeps == []


def test_a_marked_comment_by_another_user_is_left_alone(fake, sleeps):
    theirs = fake.add_comment(7, "mallory", f"{MARKER}\nlooks like a report")
    fake.add_comment(7, "tether-bot", "an unmarked comment of ours")
    with client_for(fake, sleeps) as client:
        result = upsert_comment(client, 7, "the real report")
    assert result.action == "created" and result.skipped_foreign == 1
    assert theirs["body"] == f"{MARKER}\nlooks like a report"
    assert [c["user"]["login"] for c in fake.comments[7]] == ["mallory", "tether-bot", "tether-bot"]
    assert not any(method == "PATCH" for method, _ in fake.requests)


def test_the_marker_is_not_added_twice(fake, sleeps):
    with client_for(fake, sleeps) as client:
        upsert_comment(client, 3, f"{MARKER}\nalready marked")
    assert fake.comments[3][0]["body"].count(MARKER) == 1


def test_a_body_cannot_ping_people_or_cross_link_issues(fake, sleeps):
    with client_for(fake, sleeps) as client:
        upsert_comment(client, 3, "cc @alice @acme/ml, fixes #12 and other/repo#3")
    posted = fake.comments[3][0]["body"]
    assert (
        posted
        == f"{MARKER}\ncc @\u200balice @\u200bacme/ml, fixes #\u200b12 and other/repo#\u200b3"
    )


def test_defusing_leaves_emails_headings_and_tags_alone():
    text = "## Metrics\nmail x@y.test #tag a&b"
    assert defuse(text) == text


@pytest.mark.parametrize(
    ("text", "defused"),
    [
        ("\\`@octocat", "\\`@\u200boctocat"),  # an escaped backtick opens no code span
        ("y `@team", "y `@\u200bteam"),  # nor does an unmatched one
        (
            "&#64;octocat &#x40;bob &commat;eve",
            "&#64;\u200boctocat &#x40;\u200bbob &commat;\u200beve",
        ),
        ("&#35;12 &num;3 GH-12", "&#35;\u200b12 &num;\u200b3 GH-\u200b12"),
    ],
)
def test_defusing_covers_backticks_entities_and_gh_references(text, defused):
    assert defuse(text) == defused


def test_pagination_follows_link_headers_to_find_our_comment(fake, sleeps):
    for i in range(230):
        fake.add_comment(9, "someone", f"comment {i}")
    ours = fake.add_comment(9, "tether-bot", f"{MARKER}\nold report")
    with client_for(fake, sleeps) as client:
        result = upsert_comment(client, 9, "new report")
    assert result.action == "updated" and result.comment_id == ours["id"]
    pages = [
        target for method, target in fake.requests if method == "GET" and "/issues/9/" in target
    ]
    assert len(pages) == 3
    assert ours["body"].endswith("new report")


def test_a_pagination_link_to_another_host_is_refused(fake, sleeps):
    for i in range(150):
        fake.add_comment(9, "someone", f"comment {i}")
    fake.base_url = "https://evil.test"  # the fake now writes Link headers pointing elsewhere
    settings = GitHubSettings(
        token=TOKEN, repository="acme/churn", api_url="https://api.github.test"
    )
    client = GitHubClient(settings, transport=fake.transport(), sleep=sleeps.append)
    with client, pytest.raises(ExternalError, match="another host"):
        upsert_comment(client, 9, "report")


def test_a_pagination_link_back_to_a_page_read_is_stopped(fake, sleeps):
    """A `Link: next` naming the page itself looped forever."""
    for i in range(150):
        fake.add_comment(9, "someone", f"comment {i}")
    fake.links_to_itself = True
    with client_for(fake, sleeps) as client, pytest.raises(ExternalError) as raised:
        upsert_comment(client, 9, "report")
    assert "pointed back to a page already read; stopped" in raised.value.message
    assert [m for m, t in fake.requests if "/comments" in t] == ["GET", "GET"]


def test_pagination_stops_after_max_pages(fake, sleeps, monkeypatch):
    from tether.report import github

    monkeypatch.setattr(github, "MAX_PAGES", 3)
    fake.max_per_page = 1
    for i in range(10):
        fake.add_comment(9, "someone", f"comment {i}")
    with client_for(fake, sleeps) as client, pytest.raises(ExternalError, match="past 3 pages"):
        upsert_comment(client, 9, "report")
    assert not any(m == "POST" for m, _ in fake.requests)


@pytest.mark.parametrize(
    ("method", "body", "said"),
    [
        ("GET", {"unexpected": True}, "GET /user with no login"),
        ("GET", ["not", "an", "object"], "GET /user with JSON that is not an object"),
        ("POST", {"html_url": "x"}, "with a comment without a numeric id"),
    ],
)
def test_a_malformed_answer_is_an_external_error_not_a_traceback(fake, sleeps, method, body, said):
    fake.fail(method, 200 if method == "GET" else 201, body=body)
    with client_for(fake, sleeps) as client, pytest.raises(ExternalError) as raised:
        upsert_comment(client, 9, "report")
    assert said in raised.value.message
    assert "run the job again, or check the URL" in (raised.value.hint or "")


def test_a_page_of_comments_that_is_not_a_list_is_named(fake, sleeps):
    fake.fail("GET", 200, body={"login": "tether-bot"})  # GET /user answers as usual
    fake.scripted.append(("GET", 200, {}, {"comments": []}))
    with client_for(fake, sleeps) as client, pytest.raises(ExternalError) as raised:
        upsert_comment(client, 9, "report")
    assert "/issues/9/comments with JSON that is not a list" in raised.value.message


def test_an_installation_token_is_identified_through_graphql(fake, sleeps):
    fake.add_comment(5, "github-actions[bot]", f"{MARKER}\nold")
    with client_for(fake, sleeps, token="app") as client:
        result = upsert_comment(client, 5, "new")
    assert result.author == "github-actions[bot]" and result.action == "updated"
    assert ("POST", "/graphql") in fake.requests


def test_enterprise_urls_put_graphql_beside_the_rest_api():
    ghes = settings_from_env(
        {
            "GITHUB_TOKEN": "t",
            "GITHUB_REPOSITORY": "a/b",
            "GITHUB_API_URL": "https://ghe.acme.test/api/v3/",
        }
    )
    assert ghes.api_url == "https://ghe.acme.test/api/v3"
    assert ghes.graphql == "https://ghe.acme.test/api/graphql"
    dotcom = settings_from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b"})
    assert dotcom.graphql == "https://api.github.com/graphql"
    given = settings_from_env(
        {
            "GITHUB_TOKEN": "t",
            "GITHUB_REPOSITORY": "a/b",
            "GITHUB_GRAPHQL_URL": "https://x.test/gql",
        }
    )
    assert given.graphql == "https://x.test/gql"


def test_enterprise_paths_reach_the_server(fake, sleeps):
    settings = GitHubSettings(
        token=TOKEN, repository="acme/churn", api_url=f"{fake.base_url}/api/v3"
    )
    with GitHubClient(settings, transport=fake.transport(), sleep=sleeps.append) as client:
        upsert_comment(client, 2, "report")
    assert ("POST", "/api/v3/repos/acme/churn/issues/2/comments") in fake.requests


# settings --------------------------------------------------------------------


def test_settings_need_a_token_and_a_repository():
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        settings_from_env({"GITHUB_REPOSITORY": "a/b"})
    with pytest.raises(UsageError, match="no repository given") as exc:
        settings_from_env({"GITHUB_TOKEN": "t"})
    assert (
        exc.value.hint
        == "Pass --github-repo OWNER/NAME or set GITHUB_REPOSITORY (GitHub Actions sets it)."
    )
    with pytest.raises(UsageError, match="not a repository name"):
        settings_from_env({"GITHUB_TOKEN": "t"}, "acme/churn/../../user")
    assert (
        settings_from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "x/y"}, "a/b").repository
        == "a/b"
    )


def test_the_token_is_not_in_reprs():
    settings = GitHubSettings(token=TOKEN, repository="a/b")
    assert TOKEN not in repr(settings)
    with GitHubClient(settings) as client:
        assert TOKEN not in repr(client)


def test_empty_bodies_and_bad_numbers_are_refused_before_any_request(fake, sleeps):
    with client_for(fake, sleeps) as client:
        with pytest.raises(UsageError, match="body is empty"):
            upsert_comment(client, 1, "  \n")
        with pytest.raises(UsageError, match="pull-request number"):
            upsert_comment(client, 0, "x")
    assert fake.requests == []


# retries -----------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff(fake, sleeps):
    fake.fail("GET", 502)
    fake.fail("GET", 500)
    with client_for(fake, sleeps) as client:
        assert upsert_comment(client, 1, "x").action == "created"
    assert sleeps == [1.0, 2.0]


def test_retry_after_is_honoured_in_seconds_and_as_a_date(fake, sleeps):
    fake.fail("GET", 503, {"Retry-After": "7"})
    fake.fail("GET", 503, {"Retry-After": "Fri, 15 Jan 2027 08:00:12 GMT"})
    clock = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    settings = GitHubSettings(token=TOKEN, repository="acme/churn", api_url=fake.base_url)
    with GitHubClient(
        settings, transport=fake.transport(), sleep=sleeps.append, clock=lambda: clock
    ) as client:
        upsert_comment(client, 1, "x")
    assert sleeps == [7.0, 12.0]


def test_primary_rate_limit_waits_until_the_reset(fake, sleeps):
    fake.fail(
        "GET",
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)},
        {"message": "API rate limit exceeded for installation ID 1."},
    )
    with client_for(fake, sleeps) as client:
        upsert_comment(client, 1, "x")
    assert sleeps == [31.0]


def test_secondary_rate_limits_are_retried(fake, sleeps):
    fake.fail("POST", 429, {"Retry-After": "3"}, {"message": "too many requests"})
    fake.fail("POST", 403, {}, {"message": "You have exceeded a secondary rate limit."})
    with client_for(fake, sleeps, token="app") as client:
        # the graphql POST meets both scripted failures, then succeeds
        upsert_comment(client, 1, "x")
    assert sleeps == [3.0, 60.0]


def test_a_wait_longer_than_allowed_fails_instead_of_hanging(fake, sleeps):
    fake.fail(
        "GET",
        429,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)},
        {"message": "API rate limit exceeded"},
    )
    with client_for(fake, sleeps) as client, pytest.raises(ExternalError) as exc:
        upsert_comment(client, 1, "x")
    assert "rate limit" in exc.value.message and "3601s" in exc.value.message
    assert exc.value.exit_code == 3 and sleeps == []


def test_persistent_server_errors_end_as_an_external_error(fake, sleeps):
    for _ in range(3):
        fake.fail("GET", 502, {}, {"message": "Server Error"})
    with client_for(fake, sleeps, attempts=3) as client, pytest.raises(ExternalError) as exc:
        upsert_comment(client, 1, "x")
    assert (
        exc.value.message
        == "GitHub kept failing: GET /user answered 502 Server Error after 3 attempts"
    )
    assert sleeps == [1.0, 2.0]


def test_lost_connections_are_retried_but_a_sent_post_is_not(sleeps):
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "GET" and calls.count("GET") == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "GET" and request.url.path == "/user":
            return httpx.Response(200, json={"login": "tether-bot"})
        if request.method == "GET":
            return httpx.Response(200, json=[])
        raise httpx.ReadTimeout("timed out", request=request)

    settings = GitHubSettings(
        token=TOKEN, repository="acme/churn", api_url="https://api.github.test"
    )
    client = GitHubClient(settings, transport=httpx.MockTransport(flaky), sleep=sleeps.append)
    with (
        client,
        pytest.raises(ExternalError, match="POST /repos/acme/churn/issues/1/comments failed"),
    ):
        upsert_comment(client, 1, "x")
    assert calls == ["GET", "GET", "GET", "POST"]


# refusals ---------------------------------------------------------------------


def test_a_4xx_is_refused_with_githubs_message(fake, sleeps):
    with client_for(fake, sleeps) as client, pytest.raises(GitHubRefused) as exc:
        client.request("GET", "/repos/acme/churn/issues/999/nothing")
    assert (
        exc.value.message
        == "GitHub refused GET /repos/acme/churn/issues/999/nothing (404): Not Found"
    )
    assert "pull-request number" in (exc.value.hint or "")
    assert exc.value.exit_code == 1 and sleeps == []


def test_a_forbidden_write_names_the_missing_permission(fake, sleeps):
    fake.fail("POST", 403, {}, {"message": "Resource not accessible by integration"})
    with client_for(fake, sleeps) as client, pytest.raises(GitHubRefused) as exc:
        upsert_comment(client, 4, "x")
    assert exc.value.message.endswith("(403): Resource not accessible by integration")
    assert "pull-requests: write" in (exc.value.hint or "")


def test_what_is_sent_is_capped_after_mentions_are_defused(fake, sleeps):
    # Written under the limit; each defused mention adds a character to what is sent.
    body = "## Report\n" + "@a " * 21_600
    assert len(body) < COMMENT_LIMIT < len(defuse(body))
    with client_for(fake, sleeps) as client:
        result = upsert_comment(client, 4, body)
    assert result.action == "created"
    posted = fake.comments[4][0]["body"]
    assert len(posted.encode("utf-16-le")) // 2 <= COMMENT_LIMIT
    assert posted.startswith(f"{MARKER}\n## Report\n@\u200ba ")
    assert posted.endswith(CUT_NOTICE)
    assert "cut at GitHub's limit of 65,536 characters" in posted
    assert posted.count("@") == posted.count("@\u200b")  # no live mention at the cut


def test_a_body_too_long_is_reported_as_such(fake, sleeps):
    fake.fail(
        "POST",
        422,
        {},
        {
            "message": "Validation Failed",
            "errors": [{"message": "body is too long (maximum is 65536 characters)"}],
        },
    )
    with client_for(fake, sleeps) as client, pytest.raises(CommentTooLong) as exc:
        upsert_comment(client, 4, "x")
    assert exc.value.message == (
        "GitHub refused the comment as too long: Validation Failed "
        "(body is too long (maximum is 65536 characters))"
    )
    assert "65,536" in (exc.value.hint or "") and exc.value.exit_code == 1


def test_the_token_never_appears_in_errors(fake, sleeps):
    fake.fail("GET", 401, {}, {"message": f"Bad credentials for {TOKEN}"})
    with client_for(fake, sleeps) as client, pytest.raises(GitHubRefused) as exc:
        upsert_comment(client, 4, "x")
    assert TOKEN not in str(exc.value) and "Bad credentials for ***" in exc.value.message
    assert "GITHUB_TOKEN" in (exc.value.hint or "")


# finding the pull request from its head ------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_the_pull_request_is_found_by_head_sha_and_head_repository(fake, sleeps):
    fake.max_per_page = 2
    fake.add_pull(3, "f" * 40, "acme/churn")
    fake.add_pull(4, SHA, "acme/churn", state="closed")
    fake.add_pull(5, SHA, "mallory/churn")
    fake.add_pull(6, SHA, "alice/churn")
    with client_for(fake, sleeps) as client:
        assert find_pull_request(client, SHA.upper(), "alice/churn") == 6
        with pytest.raises(GitHubRefused, match=r"more than one open pull request .*: #5, #6"):
            find_pull_request(client, SHA)
        with pytest.raises(
            GitHubRefused,
            match=r"no open pull request in acme/churn has head commit 0123456789ab from bob/churn",
        ):
            find_pull_request(client, SHA, "bob/churn")


@pytest.mark.parametrize("bad", ["0123abc", SHA + "0", "g" * 40, f"{SHA[:-1]}\n", "--output=x"])
def test_a_head_sha_must_be_40_hex_digits(fake, sleeps, bad):
    with (
        client_for(fake, sleeps) as client,
        pytest.raises(UsageError, match="not a full commit SHA"),
    ):
        find_pull_request(client, bad)
    assert fake.requests == []
