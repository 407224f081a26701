"""The report API: build a pull request's report (``build_report``, a value its
renderers draw: ``render`` for the terminal, ``markdown`` for the comment body) and
keep the one GitHub comment that carries it (``github``).

    build_report(root, base="main", head="HEAD")  -> Report
    upsert_comment(client, pr, body)              -> CommentResult
"""

from __future__ import annotations

from tether.report.build import build_report
from tether.report.github import GitHubClient, find_pull_request, settings_from_env, upsert_comment

__all__ = [
    "GitHubClient",
    "build_report",
    "find_pull_request",
    "settings_from_env",
    "upsert_comment",
]
