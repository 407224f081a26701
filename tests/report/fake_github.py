"""A small stand-in for the GitHub endpoints ``tether comment`` uses.

One class answers requests; two adapters put it on the wire: an
``httpx.MockTransport`` for unit tests, and a real HTTP server on 127.0.0.1 for
the end-to-end test. It emulates what GitHub does that matters here: users by
token (an installation token gets 403 from ``GET /user`` and answers GraphQL's
``viewer``), comment pagination with Link headers, create, update (only your own
comment), and scripted failures with any status and headers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

Reply = tuple[int, dict[str, str], Any]


@dataclass
class FakeGitHub:
    base_url: str = "https://api.github.test"
    # token -> login; tokens in ``app_tokens`` behave like Actions' GITHUB_TOKEN
    users: dict[str, str] = field(default_factory=dict)
    app_tokens: set[str] = field(default_factory=set)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    # replies returned, in order, before normal handling: (method, status, headers, body)
    scripted: list[tuple[str, int, dict[str, str], Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    default_per_page: int = 30
    max_per_page: int = 100
    # a broken server: every page's `Link: next` names the page itself
    links_to_itself: bool = False
    _next_id: int = 1000

    # -- state helpers ------------------------------------------------------

    def add_comment(self, pr: int, login: str, body: str) -> dict[str, Any]:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.test/acme/churn/pull/{pr}#issuecomment-{self._next_id}",
        }
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def add_pull(self, number: int, head_sha: str, head_repo: str, state: str = "open") -> None:
        self.pulls.append(
            {
                "number": number,
                "state": state,
                "head": {"sha": head_sha, "repo": {"full_name": head_repo}},
            }
        )

    def fail(
        self, method: str, status: int, headers: dict[str, str] | None = None, body: Any = None
    ) -> None:
        self.scripted.append(
            (method, status, headers or {}, body if body is not None else {"message": "boom"})
        )

    # -- the endpoints ----------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        url = urlsplit(target)
        path, query = url.path, parse_qs(url.query)
        self.requests.append((method, target))
        if self.scripted and self.scripted[0][0] == method:
            _, status, extra, payload = self.scripted.pop(0)
            return status, extra, payload
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        login = self.users.get(token)
        if login is None:
            return (
                401,
                {},
                {"message": "Bad credentials", "documentation_url": "https://docs.github.test"},
            )
        parts = [p for p in path.split("/") if p]
        # Enterprise puts the REST API under /api/v3 and GraphQL at /api/graphql.
        if parts[:2] == ["api", "v3"]:
            parts = parts[2:]
        elif parts[:1] == ["api"]:
            parts = parts[1:]
        data = json.loads(body) if body else None
        if method == "GET" and parts == ["user"]:
            if token in self.app_tokens:
                return 403, {}, {"message": "Resource not accessible by integration"}
            return 200, {}, {"login": login, "id": 1}
        if method == "POST" and parts == ["graphql"]:
            if "viewer" not in (data or {}).get("query", ""):
                return 200, {}, {"errors": [{"message": "unsupported query"}]}
            return 200, {}, {"data": {"viewer": {"login": login}}}
        if method == "GET" and len(parts) == 4 and parts[0] == "repos" and parts[3] == "pulls":
            state = query.get("state", ["open"])[0]
            pulls = [p for p in self.pulls if state == "all" or p["state"] == state]
            return self._page(pulls, path, query, {"state": state})
        if (
            len(parts) == 6
            and parts[0] == "repos"
            and parts[3] == "issues"
            and parts[5] == "comments"
        ):
            pr = int(parts[4])
            if method == "GET":
                return self._list(pr, path, query)
            if method == "POST":
                text = (data or {}).get("body", "")
                if len(text) > 65536:
                    return (
                        422,
                        {},
                        {
                            "message": "Validation Failed",
                            "errors": [
                                {
                                    "resource": "IssueComment",
                                    "code": "custom",
                                    "field": "body",
                                    "message": "body is too long (maximum is 65536 characters)",
                                }
                            ],
                        },
                    )
                return 201, {}, self.add_comment(pr, login, text)
        if (
            len(parts) == 6
            and parts[0] == "repos"
            and parts[3:5] == ["issues", "comments"]
            and method == "PATCH"
        ):
            comment_id = int(parts[5])
            for comments in self.comments.values():
                for comment in comments:
                    if comment["id"] == comment_id:
                        if comment["user"]["login"] != login:
                            return 403, {}, {"message": "You cannot edit someone else's comment"}
                        comment["body"] = (data or {})["body"]
                        return 200, {}, comment
        return 404, {}, {"message": "Not Found"}

    def _list(self, pr: int, path: str, query: dict[str, list[str]]) -> Reply:
        return self._page(self.comments.get(pr, []), path, query, {})

    def _page(
        self, items: list[Any], path: str, query: dict[str, list[str]], keep: dict[str, str]
    ) -> Reply:
        per_page = min(int(query.get("per_page", [self.default_per_page])[0]), self.max_per_page)
        page = int(query.get("page", ["1"])[0])
        start = (page - 1) * per_page
        headers: dict[str, str] = {}
        if start + per_page < len(items) or self.links_to_itself:
            following = page if self.links_to_itself else page + 1
            link = f"{self.base_url}{path}?{urlencode({**keep, 'per_page': per_page, 'page': following})}"
            headers["Link"] = f'<{link}>; rel="next", <{link}>; rel="last"'
        return 200, headers, items[start : start + per_page]

    # -- adapters -------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            target = request.url.raw_path.decode()
            status, headers, payload = self.handle(
                request.method, target, dict(request.headers), request.content
            )
            return httpx.Response(status, headers=headers, json=payload)

        return httpx.MockTransport(handler)


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[str]:
    """Serve ``fake`` over real HTTP on 127.0.0.1; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, body)
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    fake.base_url = f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
