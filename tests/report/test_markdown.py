"""The report renderer on hand-made ``Report`` values: exact Markdown, escaping, cutting."""

from __future__ import annotations

import re

from tether.report.markdown import COMMENT_LIMIT, mermaid_label, render, text
from tether.report.model import ArtifactView, Change, Gate, Report, Series, StageView, Uncharted

BASE = "1" * 40
HEAD = "2" * 40


def _report(**kw) -> Report:
    values = dict(
        base="main",
        head="feature",
        base_commit=BASE,
        head_commit=HEAD,
        metrics=[
            Change("reports/metrics.json", "accuracy", 0.95, 0.95),
            Change("reports/metrics.json", "f1", 0.91, 0.898),
            Change("reports/metrics.json", "log_loss", 0.2, 0.25, lower_is_better=True),
        ],
        params=[Change("params.yaml", "model.params.C", 1.0, 0.5)],
    )
    values.update(kw)
    return Report(**values)


BREACH = Gate(
    "f1<-0.01", "f1", False, "FAIL f1 worsened by 0.012 (1.32%): 0.91 -> 0.898, gate `f1<-0.01`"
)
HOLD = Gate(
    "accuracy<0", "accuracy", True, "ok accuracy unchanged: 0.95 -> 0.95, gate `accuracy<0`"
)


def test_a_breach_comes_first():
    body = render(_report(gates=[HOLD, BREACH])).body
    lines = body.splitlines()
    assert lines[0] == "## :x: tether: 1 of 2 gates breached"
    assert (
        lines[2]
        == "- :x: FAIL f1 worsened by 0.012 \\(1.32%\\): 0.91 -&gt; 0.898, gate \\`f1&lt;-0.01\\`"
    )
    assert lines[3].startswith("- :heavy_check_mark: ok accuracy unchanged")
    assert "Base main (11111111) → head feature (22222222)." in lines


def test_the_metrics_and_params_tables_exactly():
    body = render(_report(gates=[HOLD])).body
    assert body.startswith("## :white_check_mark: tether: all 1 gate hold\n")
    expected = (
        "### Metrics\n\n"
        "| File | Metric | Base | Head | Change |\n"
        "|---|---|---:|---:|---:|\n"
        "| reports/metrics.json | accuracy | 0.95 | 0.95 | 0 |\n"
        "| reports/metrics.json | f1 | 0.91 | 0.898 | -0.012 (-1.32%) worse |\n"
        "| reports/metrics.json | log\\_loss | 0.2 | 0.25 | +0.05 (+25%) worse |\n"
        "\n"
        "### Params\n\n"
        "| File | Param | Base | Head |\n"
        "|---|---|---:|---:|\n"
        "| params.yaml | model.params.C | 1 | 0.5 |\n"
    )
    assert expected in body


def test_no_gates_and_unreadable_metrics_are_said_plainly():
    none = render(_report()).body
    assert none.startswith("## :information_source: tether: no gates configured\n")
    assert (
        "2 of 3 metrics changed. Gates are read from `fail_on` under `[tool.tether]` in "
        "pyproject.toml at the base revision (main), not at the head: gates this pull request "
        "adds apply once it is merged.\n"
    ) in none
    error = render(
        _report(errors=["reports/metrics.json at main: not in the DVC cache. Fix: dvc fetch"])
    ).body
    assert error.startswith("## :warning: tether: metrics could not be read\n")
    assert "- :warning: reports/metrics.json at main: not in the DVC cache. Fix: dvc fetch" in error


def test_hostile_strings_stay_inert():
    hostile = "a|b\n<img src=x onerror=alert(1)> @alice fixes #12 `x` [l](javascript:y) GH-7"
    body = render(
        _report(metrics=[Change("m.json", hostile, float("nan"), float("inf"))], params=[])
    ).body
    [row] = [line for line in body.splitlines() if line.startswith("| m.json")]
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # five cells, intact
    for bad in ("<img", "@alice", "#12", "`x`", "[l]", "GH-7"):
        assert bad not in row
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in row and "@&#8203;alice" in row
    assert "GH-&#8203;7" in row  # escaped as diff --md escapes it
    assert "| NaN | Inf |" in row
    assert text("evil\u202etxt.exe\x1b[31m") == "evil?txt.exe?\\[31m"
    assert text("x" * 500).endswith("…") and len(text("x" * 500)) == 200


def test_a_workspace_head_names_the_commit_it_is_on():
    body = render(_report(head="workspace", head_is_workspace=True)).body
    assert "Base main (11111111) → head workspace (on 22222222)." in body
    assert body.endswith("<sub>tether report · base 11111111 · head workspace on 22222222</sub>\n")


def test_revision_names_are_escaped_too():
    body = render(_report(base="@team/<b>", head="#99")).body
    assert "Base @&#8203;team/&lt;b&gt; (11111111) → head #&#8203;99 (22222222)." in body


def test_long_tables_are_cut_params_first_with_a_notice():
    params = [Change("params.yaml", f"grid.p{i}", "a" * 150, "b" * 150) for i in range(2000)]
    result = render(_report(params=params))
    assert len(result.body) < COMMENT_LIMIT and result.metrics_cut == 0
    assert result.params_cut > 0
    shown = sum(1 for line in result.body.splitlines() if line.startswith("| params.yaml"))
    assert shown + result.params_cut == 2000
    assert (
        f"> {result.params_cut} of 2000 params rows are not shown: the comment must stay under "
        "GitHub's limit of 65,536 characters." in result.body
    )
    assert "| reports/metrics.json | f1 |" in result.body  # metrics untouched


def test_metrics_are_cut_when_params_alone_are_not_enough():
    metrics = [Change(f"eval/{i}.json", "k" * 60, 0.1, 0.2) for i in range(1500)]
    result = render(_report(metrics=metrics))
    assert len(result.body) < COMMENT_LIMIT
    assert result.params_cut == 1 and 0 < result.metrics_cut < 1500
    assert f"> {result.metrics_cut} of 1500 metrics rows are not shown" in result.body


def test_registry_stages_against_this_pr():
    stage = StageView(
        "prod",
        "v1.3.0",
        "3" * 40,
        [
            Change("reports/metrics.json", "f1", 0.886, 0.898),
            Change("reports/metrics.json", "accuracy", 0.95, 0.95),
        ],
    )
    empty = ArtifactView("other-model", None, [])
    body = render(
        _report(artifacts=[ArtifactView("cancer-classifier", "v1.4.0", [stage]), empty])
    ).body
    assert (
        "### Registry\n\n"
        "- **cancer-classifier**: latest v1.4.0\n"
        "  - prod is v1.3.0; this PR vs prod: f1 +0.012\n"
        "- **other-model**: no version registered\n"
        "  - no stage assigned\n"
    ) in body


def test_history_is_a_mermaid_chart_with_safe_labels():
    series = Series(
        'evil"```\nmodel', "f1", ["v1.0.0", "v1.1.0", "v1.2.0", "PR"], [0.88, None, 0.9, 0.91]
    )
    body = render(_report(history=[series])).body
    chart = body[body.index("```mermaid") :]
    chart = chart[: chart.index("```\n", 3) + 3]
    assert chart.splitlines() == [
        "```mermaid",
        "xychart-beta",
        '  title "evil_____model: f1"',
        '  x-axis ["v1.0.0", "v1.2.0", "PR"]',
        '  y-axis "f1" 0.877 --> 0.913',
        "  line [0.88, 0.9, 0.91]",
        "```",
    ]
    assert "### Metric history (last 3 releases and this PR)" in body
    assert mermaid_label('a"b`c<d>') == "a_b_c_d_"


def test_metrics_left_out_of_the_history_are_named():
    series = Series("model", "f1", ["v1.0.0", "PR"], [0.88, 0.9])
    names = [f"m{i}" for i in range(14)]
    left = [Uncharted("model", 4, ["x_y"]), Uncharted("other", 4, names)]
    body = render(_report(history=[series], uncharted=left)).body
    assert (
        "### Metric history (last 1 release and this PR)\n\n"
        "model: charted 4 of 5 metrics; left out: x\\_y.\n\n"
        "other: charted 4 of 18 metrics; left out: m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11 "
        "and 2 more.\n\n"
        "```mermaid\n"
    ) in body


def test_artifacts_link_or_placeholder():
    url = "https://github.com/acme/churn/actions/runs/42"
    assert (
        f"[Plots (`dvc plots diff`) and the full report of this run]({url})"
        in render(_report(artifacts_url=url)).body
    )
    for bad in (None, "javascript:alert(1)", "https://x.test/a)(b"):
        assert (
            "_Plots and the full report: see the workflow run's artifacts._"
            in render(_report(artifacts_url=bad)).body
        )
