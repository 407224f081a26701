"""`tether diff` end to end: fail-closed reads, gates, revisions, hostile input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import commit_all, dvc, git, tether, write_tree


def test_cached_metric_without_cache_fails_closed(project: Path) -> None:
    shutil.rmtree(project / ".dvc" / "cache")
    # DVC's own answer is silent: no cached metrics compared, yet exit 0.
    assert (
        dvc(project, "metrics", "diff", "v1.0.0", "v1.1.0", "--json", check=False).returncode == 0
    )
    proc = tether(project, "diff", "v1.0.0", "v1.1.0")
    assert proc.returncode == 1
    assert "could not read 4 metrics/params file(s)" in proc.stderr
    assert "v1.0.0: eval/cached.json: stored in the DVC cache" in proc.stderr
    assert "Run `dvc fetch --rev v1.0.0`, then retry." in proc.stderr
    assert "Run `dvc fetch --rev v1.1.0`, then retry." in proc.stderr
    # Git-tracked metrics are still compared and shown.
    assert "tracked.json" in proc.stdout and "tuned" in proc.stdout


def test_cached_metric_errors_are_in_json_too(project: Path) -> None:
    shutil.rmtree(project / ".dvc" / "cache")
    proc = tether(project, "diff", "v1.0.0", "v1.1.0", "--json")
    assert proc.returncode == 1
    errors = json.loads(proc.stdout)["errors"]
    assert [e["path"] for e in errors["v1.0.0"]] == ["eval/cached.json", "sub/scores.yaml"]
    assert errors["v1.1.0"][0]["fix"] == "Run `dvc fetch --rev v1.1.0`, then retry."


def test_gate_breach_exits_1_with_verdict(project: Path) -> None:
    proc = tether(
        project, "diff", "v1.0.0", "v1.1.0", "--fail-on", "test.f1<-0.01", "--fail-on", "acc<-0.01"
    )
    assert proc.returncode == 1, proc.stderr
    assert "FAIL test.f1 worsened by 0.05 (7.14%): 0.7 -> 0.65, gate `test.f1<-0.01`" in proc.stdout
    assert "ok acc improved by 0.05 (6.25%): 0.8 -> 0.85, gate `acc<-0.01`" in proc.stdout
    assert "error: 1 of 2 gate(s) breached" in proc.stderr
    assert "relax the rule (--fail-on, or the gates in pyproject.toml)" in proc.stderr


def test_gates_from_pyproject_with_direction(project: Path) -> None:
    write_tree(
        project,
        {"pyproject.toml": '[tool.tether]\nfail_on = ["loss>5%"]\nlower_is_better = ["loss"]\n'},
    )
    proc = tether(project, "diff", "v1.0.0", "v1.1.0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok loss improved by 0.1 (20%): 0.5 -> 0.4, gate `loss>5%`" in proc.stdout
    proc = tether(project, "diff", "v1.1.0", "v1.0.0", "--json")
    assert proc.returncode == 1
    gates = json.loads(proc.stdout)["gates"]
    assert gates == [
        {
            "rule": "loss>5%",
            "metric": "loss",
            "old": 0.4,
            "new": 0.5,
            "passed": False,
            "message": "FAIL loss worsened by 0.1 (25%): 0.4 -> 0.5, gate `loss>5%`",
        }
    ]


def test_a_gate_on_a_metric_neither_revision_has_is_a_usage_error(project: Path) -> None:
    """A typo must not look like a regression ("missing -> missing")."""
    proc = tether(project, "diff", "v1.0.0", "v1.1.0", "--fail-on", "losss>0")
    assert proc.returncode == 2, proc.stdout
    assert (
        "gate `losss>0` names metric 'losss', which neither v1.0.0 nor v1.1.0 has; "
        "did you mean loss?"
    ) in proc.stderr
    assert "Metrics there: " in proc.stderr and "loss" in proc.stderr
    assert "missing -> missing" not in proc.stdout + proc.stderr


def test_ambiguous_metric_needs_a_path(project: Path) -> None:
    write_tree(project, {"summary.yaml": "best: 0.8\nacc: 0.1\n"})
    proc = tether(project, "diff", "v1.1.0", "--fail-on", "acc<0")
    assert proc.returncode == 2
    assert "metric 'acc' is in several files (eval/cached.json, summary.yaml)" in proc.stderr
    proc = tether(project, "diff", "v1.1.0", "--fail-on", "summary.yaml:acc<0")
    assert proc.returncode == 1
    assert "FAIL summary.yaml:acc: no number at v1.1.0" in proc.stdout


def test_revision_that_looks_like_an_option_is_unknown(project: Path) -> None:
    for rev in ("--output=x", "-h", "no-such-branch"):
        proc = tether(project, "diff", "--", rev, "v1.0.0")
        assert proc.returncode == 2, (rev, proc.stdout, proc.stderr)
        assert f"unknown revision {rev!r}" in proc.stderr
    assert not (project / "x").exists()


def test_bad_rule_is_a_usage_error(project: Path) -> None:
    proc = tether(project, "diff", "--fail-on", "f1 drops")
    assert proc.returncode == 2
    assert "cannot read gate rule 'f1 drops'" in proc.stderr


def test_nested_and_dotted_key_is_a_clear_error(project: Path) -> None:
    write_tree(project, {"summary.yaml": "a:\n  b: 1\na.b: 2\n"})
    proc = tether(project, "diff")
    assert proc.returncode == 1
    assert "workspace: summary.yaml: key 'a.b' appears both nested and dotted" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unparsable_metric_is_named(project: Path) -> None:
    write_tree(project, {"eval/tracked.json": "{not json"})
    proc = tether(project, "diff")
    assert proc.returncode == 1
    assert "workspace: eval/tracked.json: not valid JSON" in proc.stderr


def test_non_numeric_values_change_without_a_number(project: Path) -> None:
    proc = tether(project, "diff", "v1.0.0", "v1.1.0", "--json")
    data = json.loads(proc.stdout)
    assert data["metrics"]["eval/tracked.json"]["label"] == {"old": "baseline", "new": "tuned"}
    assert data["params"]["params.yaml"]["model.layers"] == {"old": "[8, 4]", "new": "[16, 4]"}


def test_hostile_names_and_values_in_markdown_and_json(project: Path) -> None:
    hostile = {
        "a|b": 1.0,
        "ping @octocat #123": "x</td><script>alert(1)</script>",
        "line\nbreak": float("nan"),
        "inf": float("inf"),
    }
    (project / "summary.yaml").unlink()
    write_tree(project, {"summary.json": json.dumps(hostile)})
    write_tree(
        project,
        {"dvc.yaml": (project / "dvc.yaml").read_text().replace("summary.yaml", "summary.json")},
    )
    commit_all(project, "hostile")
    proc = tether(project, "diff", "v1.1.0", "HEAD", "--md")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| summary.json")]
    assert len(rows) == 4
    for row in rows:
        # six cells: unescaped pipes delimit exactly seven times
        assert row.replace("\\|", "").count("|") == 7, row
    text = proc.stdout
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "@octocat" not in text and "@&#8203;octocat" in text
    assert "#123" not in text and "#&#8203;123" in text
    assert "| NaN |" in text and "| Inf |" in text
    proc = tether(project, "diff", "v1.1.0", "HEAD", "--json")
    data = json.loads(proc.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert data["metrics"]["summary.json"]["line\nbreak"] == {"old": None, "new": "NaN"}
    assert data["metrics"]["summary.json"]["inf"] == {"old": None, "new": "Infinity"}


def test_diff_does_not_import_dvc_repo(project: Path) -> None:
    code = (
        "import sys\n"
        "from tether.cli import main\n"
        "try:\n    main(['diff', 'v1.0.0', 'v1.1.0', '--json'])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "try:\n    main(['history', '--json'])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "bad = sorted(m for m in sys.modules if m == 'dvc' or m.startswith(('dvc.', 'dvc_data', 'sklearn', 'pandas')))\n"
        "print('IMPORTED', bad, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True)
    assert "IMPORTED []" in proc.stderr, proc.stderr


def test_workspace_change_in_table(project: Path) -> None:
    write_tree(project, {"sub/scores.src.yaml": "precision: 0.9\nrecall: 0.5\n"})
    dvc(project, "repro", "-q", "--all-pipelines")
    proc = tether(project, "diff")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if "precision" in line)
    assert line.split() == ["sub/scores.yaml", "precision", "0.7", "0.9", "+0.2", "+28.6%"]
    assert git(project, "status", "--porcelain", "--", "sub/scores.src.yaml")


def test_hostile_dvc_yaml_cannot_read_outside_the_repo(project: Path) -> None:
    secret = project.parent / "secret.yaml"
    secret.write_text("token: hunter2\n", encoding="utf-8")
    (project / "eval" / "link.yaml").symlink_to(secret)
    pipeline = (project / "dvc.yaml").read_text(encoding="utf-8")
    hostile = "  - scalar.json\n  - ../secret.yaml\n  - /etc/hostname\n  - eval/link.yaml\n"
    write_tree(project, {"dvc.yaml": pipeline.replace("  - scalar.json\n", hostile)})
    for args in (["diff"], ["diff", "--json"], ["diff", "--md"]):
        proc = tether(project, *args)
        assert proc.returncode == 1
        assert "hunter2" not in proc.stdout + proc.stderr
    assert (
        "../secret.yaml: dvc.yaml at workspace names a file outside the repository" in proc.stderr
    )
    assert "/etc/hostname: dvc.yaml at workspace names a file outside the repository" in proc.stderr
    assert "eval/link.yaml: not found in the work tree" in proc.stderr


# A metrics file from a pull request is hostile input: 600 bytes of nested YAML
# anchors stand for 10**9 values ("billion laughs").
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_alias_bomb_is_refused_naming_the_file(project: Path) -> None:
    assert len(ALIAS_BOMB) < 700
    write_tree(project, {"summary.yaml": ALIAS_BOMB})
    for args in (["--md"], ["--json"], []):
        proc = tether(project, "diff", *args)
        assert proc.returncode == 1, proc.stderr
        assert (
            "workspace: summary.yaml: not valid YAML: its aliases expand to over 1000000 values"
            in proc.stderr
        )
        assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr
    commit_all(project, "a pull request with a bomb")
    # The report says so in its body (the PR's authors must see it), then carries on.
    report = tether(project, "report", "--base", "v1.1.0", "--head", "HEAD")
    assert report.returncode == 0, report.stderr
    assert "## :warning: tether: metrics could not be read" in report.stdout
    assert (
        "summary.yaml at HEAD: not valid YAML: its aliases expand to over 1000000 values"
        in report.stdout
    )


def test_huge_metrics_file_is_refused_before_it_is_parsed(project: Path) -> None:
    huge = project / "summary.yaml"
    with huge.open("w") as fh:
        fh.write("best: 0.8\npad: '")
        fh.write("x" * (64 * 1024 * 1024))
        fh.write("'\n")
    proc = tether(project, "diff", "--md")
    assert proc.returncode == 1, proc.stderr
    assert "workspace: summary.yaml: not valid YAML: larger than 67108864 bytes" in proc.stderr


def test_a_metrics_file_nested_past_the_stack_is_named_not_a_traceback(project: Path) -> None:
    """JSON nested deeper than Python's parser recurses (and JSON just shallow enough
    to parse, whose walk would then recurse too far) is named, in diff and report."""
    for depth in (200_000, 990):
        nested = '{"a": ' * depth + "1" + "}" * depth
        write_tree(project, {"eval/tracked.json": '{"acc": 0.5, "deep": ' + nested + "}"})
        proc = tether(project, "diff", "--json")
        assert proc.returncode == 1, proc.stderr
        assert "workspace: eval/tracked.json: nested deeper than 100 levels" in proc.stderr
        assert "Traceback" not in proc.stderr
    commit_all(project, "a pull request with a deep metrics file")
    report = tether(project, "report", "--base", "v1.1.0", "--head", "HEAD")
    assert report.returncode == 0, report.stderr
    assert "eval/tracked.json at HEAD: nested deeper than 100 levels" in report.stdout
