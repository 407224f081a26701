"""Post the report as one pull-request comment, created once and then updated in place.

The comment carries a hidden marker (an HTML comment, invisible once rendered).
On every run we list the pull request's comments, keep those that carry the
marker *and* were written by the token's own user, and edit the first of them;
only if there is none do we create one. A marked comment written by anyone else
is never touched: copying the marker into a comment must not let a stranger
steer what tether edits.

Settings follow GitHub Actions conventions: ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY``
(``owner/name``), ``GITHUB_API_URL`` (GitHub Enterprise sets its own) and
``GITHUB_GRAPHQL_URL``.

We use httpx directly rather than a GitHub client library: we need four REST
calls and one GraphQL query, but we need control over retries (Retry-After,
rate-limit resets, an injected sleep for tests), a transport that tests can
replace, and a guarantee that the token never reaches a message. The token is
only ever placed in the Authorization header and is scrubbed from any text we
raise, and pagination links pointing to another host are refused so the token
is never sent there.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, NoReturn

import httpx

from tether import __version__
from tether.errors import ConfigError, ExternalError, GitHubRefused, UsageError

MARKER = "<!-- tether:pr-report -->"
DEFAULT_API_URL = "https://api.github.com"
# GitHub's limit on a comment body, in characters (422 "Body is too long" beyond it).
COMMENT_LIMIT = 65_536

_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_RETRY_STATUSES = {500, 502, 503, 504}
# Pages of a listing read at most: 100 items each, so 20,000 comments or pull
# requests; a server whose `Link: next` never ends is stopped there.
MAX_PAGES = 200
_VIEWER_QUERY = "query { viewer { login } }"


class CommentTooLong(GitHubRefused):
    """GitHub refused the body as longer than a comment may be."""


# settings --------------------------------------------------------------------


@dataclass(frozen=True)
class GitHubSettings:
    """Where to post and as whom. ``repr`` hides the token."""

    token: str
    repository: str
    api_url: str = DEFAULT_API_URL
    graphql_url: str | None = None

    def __repr__(self) -> str:
        return (
            f"GitHubSettings(token='***', repository={self.repository!r}, "
            f"api_url={self.api_url!r}, graphql_url={self.graphql_url!r})"
        )

    @property
    def graphql(self) -> str:
        """The GraphQL endpoint: given, or derived as GitHub lays them out
        (``/graphql`` on github.com, ``/api/graphql`` beside ``/api/v3`` on Enterprise)."""
        if self.graphql_url:
            return self.graphql_url
        base = self.api_url.rstrip("/")
        if base.endswith("/api/v3"):
            return base.removesuffix("/v3") + "/graphql"
        return base + "/graphql"


def settings_from_env(env: Mapping[str, str], repository: str | None = None) -> GitHubSettings:
    """Read the GitHub Actions variables; ``repository`` (``--github-repo``) wins over the env."""
    token = env.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "GITHUB_TOKEN is not set",
            "In a workflow pass it with `env: GITHUB_TOKEN: ${{ github.token }}`; "
            "locally export a token that may write pull-request comments.",
        )
    repo = (repository or env.get("GITHUB_REPOSITORY", "")).strip()
    if not repo:
        raise UsageError(
            "no repository given",
            "Pass --github-repo OWNER/NAME or set GITHUB_REPOSITORY (GitHub Actions sets it).",
        )
    validate_repository(repo)
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise ConfigError(f"GITHUB_API_URL {api_url!r} is not an http(s) URL")
    graphql_url = (env.get("GITHUB_GRAPHQL_URL") or "").strip() or None
    return GitHubSettings(token=token, repository=repo, api_url=api_url, graphql_url=graphql_url)


# the client ------------------------------------------------------------------


class GitHubClient:
    """A small REST + GraphQL client with retries. Use as a context manager.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``);
    ``sleep`` and ``clock`` replace time so tests never wait.
    """

    def __init__(
        self,
        settings: GitHubSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        attempts: int = 5,
        max_wait: float = 300.0,
        timeout: float = 30.0,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._attempts = attempts
        self._max_wait = max_wait
        self._origin = httpx.URL(settings.api_url).copy_with(path="/", query=None, fragment=None)
        self._http = httpx.Client(
            base_url=settings.api_url,
            headers={
                "Authorization": f"Bearer {settings.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"tether/{__version__}",
            },
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"GitHubClient({self.settings!r})"

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # requests with retries ---------------------------------------------------

    def request(
        self, method: str, url: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        """Send one request, retrying server errors, rate limits and lost connections.

        A POST that timed out after it was sent is not retried (it may have been
        applied); one whose connection never opened is. Any other 4xx raises
        GitHubRefused with GitHub's own message.
        """
        idempotent = method.upper() in ("GET", "PATCH", "PUT", "DELETE")
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                response = self._http.request(method, url, json=json, params=params)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise ExternalError(
                        self._scrub(f"cannot reach GitHub at {self.settings.api_url}: {exc}")
                    ) from None
                self._wait(_backoff(attempt))
                continue
            except httpx.TransportError as exc:
                if last or not idempotent:
                    raise ExternalError(
                        self._scrub(f"{method} {_path(url)} failed: {exc}")
                    ) from None
                self._wait(_backoff(attempt))
                continue
            if response.is_success:
                return response
            delay = self._retry_delay(response, attempt)
            if delay is None:
                self._refuse(method, url, response)
            if last:
                raise ExternalError(
                    self._scrub(
                        f"GitHub kept failing: {method} {_path(url)} answered "
                        f"{response.status_code} {_message(response)} after {self._attempts} attempts"
                    ),
                    "GitHub may be degraded (https://www.githubstatus.com); run the job again later.",
                )
            if delay > self._max_wait:
                raise ExternalError(
                    f"GitHub rate limit reached: it asks to wait {delay:.0f}s, more than {self._max_wait:.0f}s",
                    "Run the job again once the limit has reset.",
                )
            self._wait(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, seconds: float) -> None:
        self._sleep(max(0.0, seconds))

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying ``response``, or None if it must not be retried."""
        status = response.status_code
        after = _retry_after(response.headers.get("retry-after"), self._clock)
        if status in _RETRY_STATUSES:
            return after if after is not None else _backoff(attempt)
        if status not in (403, 429):
            return None
        # Rate limits (GitHub docs, "Rate limits for the REST API"): a primary limit
        # answers 403/429 with x-ratelimit-remaining: 0 and a reset time; a secondary
        # one with retry-after, or with a message only (then wait at least a minute).
        if after is not None:
            return after
        if response.headers.get("x-ratelimit-remaining") == "0":
            try:
                reset = float(response.headers.get("x-ratelimit-reset", ""))
            except ValueError:
                return 60.0
            return max(reset - self._clock(), 0.0) + 1.0
        if "rate limit" in _message(response).lower():
            return max(60.0, _backoff(attempt))
        return _backoff(attempt) if status == 429 else None

    def _refuse(self, method: str, url: str, response: httpx.Response) -> NoReturn:
        status = response.status_code
        message = _message(response)
        if status == 422 and "too long" in message.lower():
            raise CommentTooLong(
                self._scrub(f"GitHub refused the comment as too long: {message}"),
                f"A comment may hold at most {COMMENT_LIMIT:,} characters; "
                "`tether report` keeps its body under that limit.",
                status=status,
            )
        hints = {
            401: "The token is invalid or expired: check GITHUB_TOKEN.",
            403: "The token may not do this: the job needs `permissions: pull-requests: write`.",
            404: "Check the pull-request number and --github-repo (or GITHUB_REPOSITORY); a token "
            "without access to a private repository also gets 404.",
        }
        raise GitHubRefused(
            self._scrub(f"GitHub refused {method} {_path(url)} ({status}): {message}"),
            hints.get(status),
            status=status,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self.settings.token, "***") if self.settings.token else text

    # the calls we use ------------------------------------------------------

    def viewer_login(self) -> str:
        """The login of the token's user.

        ``GET /user`` answers 403 for GitHub App installation tokens, which is
        what GITHUB_TOKEN is in Actions; GraphQL's ``viewer`` works for both, so
        we ask it when REST refuses (its login is then e.g. ``github-actions[bot]``).
        """
        try:
            user = _answer(self.request("GET", "/user"), dict)
            if not isinstance(user.get("login"), str):
                raise _malformed(user, "GET /user", "no login")
            return user["login"]
        except GitHubRefused as exc:
            if exc.status != 403:
                raise
        response = self.request("POST", self.settings.graphql, json={"query": _VIEWER_QUERY})
        data = _answer(response, dict)
        login = ((data.get("data") or {}).get("viewer") or {}).get("login")
        if not login:
            errors = "; ".join(str(e.get("message", e)) for e in data.get("errors") or [])
            raise GitHubRefused(
                f"GitHub did not say who the token belongs to: {errors or 'no viewer in the answer'}",
                "Check GITHUB_TOKEN.",
            )
        return str(login)

    def iter_comments(self, repository: str, pr: int) -> Iterator[dict[str, Any]]:
        """Every comment on the pull request's conversation, following Link pagination."""
        yield from self._paginate(f"/repos/{repository}/issues/{pr}/comments", {"per_page": 100})

    def _paginate(self, first: str, params: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        url: str | None = first
        seen: set[str] = set()
        while url:
            if len(seen) == MAX_PAGES:
                raise ExternalError(
                    f"GitHub's pagination of GET {_path(first)} went past {MAX_PAGES} pages; "
                    "stopped",
                    "A listing that long is not a pull request's: check GITHUB_API_URL.",
                )
            seen.add(url)
            response = self.request("GET", url, params=params)
            for item in _answer(response, list):
                if not isinstance(item, dict):
                    raise _malformed(item, f"GET {_path(url)}", "an item that is not an object")
                yield item
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query
            if url and url in seen:
                raise ExternalError(
                    f"GitHub's pagination of GET {_path(first)} pointed back to a page "
                    "already read; stopped",
                    "GitHub may be having trouble; run the job again.",
                )
            if url and not self._same_origin(url):
                raise ExternalError(
                    "GitHub's pagination pointed to another host; stopped so the token is not sent there"
                )

    def _same_origin(self, url: str) -> bool:
        other = httpx.URL(url)
        return (other.scheme, other.host, other.port) == (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        )

    def iter_open_pulls(self, repository: str) -> Iterator[dict[str, Any]]:
        """Every open pull request of the repository, following Link pagination."""
        yield from self._paginate(f"/repos/{repository}/pulls", {"state": "open", "per_page": 100})

    def create_comment(self, repository: str, pr: int, body: str) -> dict[str, Any]:
        path = f"/repos/{repository}/issues/{pr}/comments"
        return _comment(self.request("POST", path, json={"body": body}), f"POST {path}")

    def update_comment(self, repository: str, comment_id: int, body: str) -> dict[str, Any]:
        path = f"/repos/{repository}/issues/comments/{comment_id}"
        return _comment(self.request("PATCH", path, json={"body": body}), f"PATCH {path}")


# the one thing `tether comment` does -------------------------------------------


@dataclass(frozen=True)
class CommentResult:
    action: Literal["created", "updated"]
    repository: str
    pr: int
    comment_id: int
    url: str
    author: str
    # marked comments by other users that were left alone
    skipped_foreign: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_repository(repository: str, what: str = "repository") -> str:
    if not _REPO_RE.match(repository):
        raise UsageError(
            f"{repository!r} is not a {what} name", "Give it as OWNER/NAME, e.g. acme/churn-model."
        )
    return repository


def find_pull_request(client: GitHubClient, head_sha: str, head_repo: str | None = None) -> int:
    """The number of the open pull request whose head is ``head_sha`` (from ``head_repo``).

    This is how the comment workflow finds its pull request: a ``workflow_run``
    event lists no pull requests when the head is in a fork, and nothing in
    the report artifact is trusted to name one.
    """
    sha = head_sha.strip().lower()
    if not _SHA_RE.match(sha):
        raise UsageError(
            f"{head_sha[:80]!r} is not a full commit SHA", "Give the 40-character hex SHA."
        )
    if head_repo is not None:
        validate_repository(head_repo, "head repository")
    repository = client.settings.repository
    found = []
    for pull in client.iter_open_pulls(repository):
        head = pull.get("head") or {}
        if (head.get("sha") or "").lower() != sha:
            continue
        full_name = (head.get("repo") or {}).get("full_name") or ""
        if head_repo is None or full_name.lower() == head_repo.lower():
            found.append(int(pull["number"]))
    if not found:
        raise GitHubRefused(
            f"no open pull request in {repository} has head commit {sha[:12]}"
            + (f" from {head_repo}" if head_repo else ""),
            "The pull request may be closed, or was pushed to since; the newer run posts its own report.",
        )
    if len(found) > 1:
        numbers = ", ".join(f"#{n}" for n in sorted(found))
        raise GitHubRefused(
            f"more than one open pull request has head commit {sha[:12]}: {numbers}",
            "Pass --pr N to choose one.",
        )
    return found[0]


# What GitHub would turn into a ping (@user, @org/team) or a cross-reference (#12,
# owner/repo#12, GH-12) when a bot posts it, also when spelled as an HTML entity
# (&#64;, &#x40;, &commat;, &#35;, &num;) or after a backtick: an unmatched or escaped
# backtick opens no code span, so a mention after it is live. E-mail addresses
# (x@y.test) are left alone.
_PINGS = re.compile(
    r"(?<!\w)(?:@|&#0*64;|&#x0*40;|&commat;)(?=[A-Za-z0-9])"
    r"|(?<!&)(?:#|&#0*35;|&#x0*23;|&num;)(?=\d)"
    r"|\bGH-(?=\d)",
    re.IGNORECASE,
)


def defuse(body: str) -> str:
    """The body with mentions and issue references broken by a zero-width space.

    ``tether report`` escapes them already; this also covers a body that did not come
    from it (the comment workflow reads it from an artifact written by PR code), so a
    pull request cannot make the bot ping people or cross-link issues.
    """
    return _PINGS.sub(lambda m: f"{m.group(0)}\u200b", body)


# Ends a comment cut to fit; starts with a blank line, so nothing cut before it can
# join it into a mention or a link.
CUT_NOTICE = (
    f"\n\n> This comment was cut at GitHub's limit of {COMMENT_LIMIT:,} characters; "
    "the full report is in the workflow run's artifacts.\n"
)


def _units(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int = COMMENT_LIMIT) -> str:
    """``text`` as it can be sent: cut, with ``CUT_NOTICE``, when longer than ``limit``.

    The cap applies to what is sent, after ``defuse`` and the marker: defusing adds
    a character per mention, so a report written just under the limit can go over.
    """
    if _units(text) <= limit:
        return text
    budget = limit - _units(CUT_NOTICE)
    cut = text[:budget]
    while _units(cut) > budget:
        cut = cut[: len(cut) - max(1, _units(cut) - budget)]
    return cut + CUT_NOTICE


def with_marker(body: str, marker: str = MARKER) -> str:
    """The body with the hidden marker on its first line (added once)."""
    return body if marker in body else f"{marker}\n{body}"


def upsert_comment(
    client: GitHubClient, pr: int, body: str, *, marker: str = MARKER
) -> CommentResult:
    """Create the pull request's marked comment, or update the one the token's user wrote."""
    if pr <= 0:
        raise UsageError(f"--pr must be a pull-request number, not {pr}")
    if not body.strip():
        raise UsageError(
            "the comment body is empty", "Write the report first: `tether report -o report.md`."
        )
    repository = client.settings.repository
    me = client.viewer_login()
    mine: dict[str, Any] | None = None
    foreign = 0
    for comment in client.iter_comments(repository, pr):
        if marker not in (comment.get("body") or ""):
            continue
        author = ((comment.get("user") or {}).get("login") or "").lower()
        if author == me.lower() and mine is None:
            mine = _comment_id_checked(comment, f"GET /repos/{repository}/issues/{pr}/comments")
        elif author != me.lower():
            foreign += 1
    text = fit(with_marker(defuse(body), marker))
    if mine is not None:
        saved = client.update_comment(repository, int(mine["id"]), text)
        action: Literal["created", "updated"] = "updated"
    else:
        saved = client.create_comment(repository, pr, text)
        action = "created"
    return CommentResult(
        action=action,
        repository=repository,
        pr=pr,
        comment_id=int(saved["id"]),
        url=str(saved.get("html_url") or ""),
        author=me,
        skipped_foreign=foreign,
    )


# helpers -----------------------------------------------------------------------


def _answer(response: httpx.Response, kind: type) -> Any:
    """The JSON of a successful answer, of ``kind`` (dict or list); ExternalError,
    not a traceback, when GitHub (or what stands at --github-api-url) sends else."""
    what = f"{response.request.method} {_path(str(response.request.url))}"
    try:
        data = response.json()
    except ValueError:
        raise _malformed(response.text, what, "no JSON") from None
    if not isinstance(data, kind):
        raise _malformed(
            data, what, f"JSON that is not {'an object' if kind is dict else 'a list'}"
        )
    return data


def _comment(response: httpx.Response, what: str) -> dict[str, Any]:
    return _comment_id_checked(_answer(response, dict), what)


def _comment_id_checked(comment: dict[str, Any], what: str) -> dict[str, Any]:
    """``comment`` when its id is a number, as every comment GitHub sends has."""
    if isinstance(comment.get("id"), bool) or not isinstance(comment.get("id"), int):
        raise _malformed(comment, what, "a comment without a numeric id")
    return comment


def _malformed(data: Any, what: str, found: str) -> ExternalError:
    shown = repr(data)
    shown = shown if len(shown) <= 80 else shown[:80] + "..."
    return ExternalError(
        f"GitHub answered {what} with {found}: {shown}",
        "GitHub may be having trouble, or GITHUB_API_URL names a server that is not "
        "GitHub's API; run the job again, or check the URL.",
    )


def _backoff(attempt: int) -> float:
    """1, 2, 4, 8... seconds, at most 30."""
    return float(min(2 ** (attempt - 1), 30))


def _retry_after(value: str | None, clock: Callable[[], float]) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - clock(), 0.0)


def _message(response: httpx.Response) -> str:
    """GitHub's own words from an error answer: message plus any field errors."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200] or response.reason_phrase
    if not isinstance(data, dict):
        return response.reason_phrase
    message = str(data.get("message") or response.reason_phrase)
    details = []
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            details.append(str(err.get("message") or err.get("code") or err))
        else:
            details.append(str(err))
    return f"{message} ({'; '.join(details)})" if details else message


def _path(url: str) -> str:
    """A URL as shown in messages: the path only, never a query string."""
    return httpx.URL(url).path
