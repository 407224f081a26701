"""Terminal and JSON renderers of ``tether report`` and ``tether comment``.

The report body itself is Markdown, rendered by ``tether.report.markdown``; this
module renders what the commands say about it: where the report was written and
its verdict, and which comment was created or updated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tether.report.github import CommentResult
from tether.report.markdown import Rendered
from tether.report.model import Report


def written_line(path: Path, report: Report, rendered: Rendered) -> str:
    """``tether report -o FILE``: the file, its size, the verdict, any rows cut."""
    cut = ""
    if rendered.metrics_cut or rendered.params_cut:
        cut = f"; left out {rendered.metrics_cut} metrics and {rendered.params_cut} params rows"
    return f"wrote {path} ({len(rendered.body):,} characters, verdict {report.verdict}{cut})"


def strict_failure(report: Report) -> str | None:
    """With ``--strict``: why the report fails the build, or None when it does not."""
    if report.verdict not in ("fail", "error"):
        return None
    breached = [g for g in report.gates if not g.passed]
    what = f"{len(breached)} gate(s) breached" if breached else "metrics could not be read"
    return f"--strict: {what}; the report says which"


def comment_json(result: CommentResult) -> dict[str, Any]:
    """``tether comment --json``."""
    return result.to_dict()


def comment_lines(result: CommentResult) -> list[str]:
    """``tether comment``: the comment created or updated, its link, what was left."""
    lines = [
        f"{result.action} comment {result.comment_id} on {result.repository}#{result.pr} "
        f"as {result.author}"
    ]
    if result.url:
        lines.append(result.url)
    if result.skipped_foreign:
        lines.append(
            f"left alone {result.skipped_foreign} marked comment(s) written by other users"
        )
    return lines
