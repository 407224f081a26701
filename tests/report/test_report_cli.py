"""``tether report`` on a real repository: releases as registry tags, a PR branch
that breaches a gate, metrics read from git at every revision."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, tether

MODEL = "cancer-classifier"


def _metrics(root: Path, **values: float) -> None:
    path = root / "reports" / "metrics.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(values)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _tag(root: Path, name: str) -> None:
    git(root, "tag", "-a", name, "-m", f"registry: {name}")


@pytest.fixture
def released(template_repo: Path) -> Path:
    """main with three releases (prod = v1.1.0), and a branch `feature` that drops f1."""
    root = template_repo
    _metrics(root, f1=0.90, accuracy=0.91)
    commit_all(root, "release 1")
    _tag(root, f"{MODEL}@v1.0.0")
    _metrics(root, f1=0.92, accuracy=0.93)
    commit_all(root, "release 2")
    _tag(root, f"{MODEL}@v1.1.0")
    _tag(root, f"{MODEL}#prod#3")
    _metrics(root, f1=0.95, accuracy=0.94)
    commit_all(root, "release 3")
    _tag(root, f"{MODEL}@v1.2.0")
    git(root, "checkout", "-q", "-b", "feature")
    _metrics(root, f1=0.93, accuracy=0.96)
    (root / "params.yaml").write_text(
        (root / "params.yaml").read_text(encoding="utf-8").replace("C: 1.0", "C: 0.5"),
        encoding="utf-8",
    )
    commit_all(root, "smaller C")
    return root


@pytest.mark.slow
def test_a_breach_is_reported_first_with_diffs_registry_and_history(released: Path):
    done = tether(
        released,
        "report",
        "--base",
        "main",
        "--head",
        "feature",
        "--fail-on",
        "f1<-0.01",
        "--fail-on",
        "accuracy<-0.01",
        "--releases",
        "2",
        "--artifacts-url",
        "https://github.com/acme/churn/actions/runs/7",
    )
    assert done.returncode == 0, done.stderr
    body = done.stdout
    lines = body.splitlines()
    assert lines[0] == "## :x: tether: 1 of 2 gates breached"
    assert (
        lines[2].startswith("- :x: ")
        and "f1" in lines[2]
        and "0.95" in lines[2]
        and "0.93" in lines[2]
    )
    assert lines[3].startswith("- :heavy_check_mark: ") and "accuracy" in lines[3]
    assert "| reports/metrics.json | f1 | 0.95 | 0.93 | -0.02 (-2.11%) worse |" in body
    assert "| reports/metrics.json | accuracy | 0.94 | 0.96 | +0.02 (+2.13%) better |" in body
    assert "| params.yaml | model.params.C | 1 | 0.5 |" in body
    assert f"- **{MODEL}**: latest v1.2.0" in body
    assert "  - prod is v1.1.0; this PR vs prod: accuracy +0.03, f1 +0.01" in body
    assert "### Metric history (last 2 releases and this PR)" in body
    assert '  x-axis ["v1.1.0", "v1.2.0", "PR"]' in body
    charts = [line for line in body.splitlines() if line.startswith("  title ")]
    # The gated metrics first, then the others alphabetically up to four charts.
    assert charts == [
        f'  title "{MODEL}: {name}"' for name in ("accuracy", "f1", "precision", "recall")
    ]
    assert "  line [0.92, 0.95, 0.93]" in body  # f1
    assert f"{MODEL}: charted 4 of 5 metrics; left out: roc\\_auc." in body
    assert "(https://github.com/acme/churn/actions/runs/7)" in body


@pytest.mark.slow
def test_the_workspace_is_the_default_head_and_output_goes_to_a_file(released: Path):
    _metrics(released, f1=0.99, roc_auc=0.5)
    out = released / "out" / "report.md"
    done = tether(released, "report", "--base", f"{MODEL}#prod", "-o", str(out))
    assert done.returncode == 0, done.stderr
    head = git(released, "rev-parse", "HEAD")[:8]
    assert done.stdout.startswith(f"wrote {out} (")
    assert done.stdout.rstrip().endswith("characters, verdict none)")
    body = out.read_text(encoding="utf-8")
    assert body.startswith("## :information_source: tether: no gates configured\n")
    assert f"→ head workspace (on {head})." in body
    assert "| reports/metrics.json | f1 | 0.92 | 0.99 | +0.07 (+7.61%) better |" in body
    assert f"at the base revision ({MODEL}#prod), not at the head: gates this pull request" in body
    # What changed is charted first (roc_auc last alphabetically, but it moved).
    charts = [line for line in body.splitlines() if line.startswith("  title ")]
    assert charts == [
        f'  title "{MODEL}: {name}"' for name in ("accuracy", "f1", "roc_auc", "precision")
    ]
    assert f"{MODEL}: charted 4 of 5 metrics; left out: recall." in body


@pytest.mark.slow
def test_an_unknown_base_is_a_usage_error(released: Path):
    done = tether(released, "report", "--base", "--output=x")
    assert done.returncode == 2
    assert "unknown revision '--output=x'" in done.stderr


@pytest.mark.slow
def test_gates_come_from_the_base_so_a_pr_cannot_loosen_them(released: Path):
    git(released, "checkout", "-q", "main")
    (released / "pyproject.toml").write_text(
        '[tool.tether]\nfail_on = ["f1<-0.01"]\n', encoding="utf-8"
    )
    commit_all(released, "gate f1")
    git(released, "checkout", "-q", "feature")
    git(released, "merge", "-q", "--no-edit", "main")
    (released / "pyproject.toml").write_text("[tool.tether]\nfail_on = []\n", encoding="utf-8")
    commit_all(released, "drop the gate")
    done = tether(released, "report", "--base", "main", "--head", "feature")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## :x: tether: 1 of 1 gate breached\n")
    # --strict still writes the report, then fails the build on the base's gates.
    strict = tether(
        released, "report", "--base", "main", "--head", "feature", "--strict", "-o", "r.md"
    )
    assert strict.returncode == 1
    assert (
        (released / "r.md")
        .read_text(encoding="utf-8")
        .startswith("## :x: tether: 1 of 1 gate breached")
    )
    assert "error: --strict: 1 gate(s) breached; the report says which" in strict.stderr


@pytest.mark.slow
def test_a_shallow_checkout_reports_no_stale_stages_and_says_how_to_fetch(
    released: Path, tmp_path: Path
):
    """CI's default checkout is one commit deep: the tag that put v1.1.0 in prod is
    beyond it, so the registry section says why it is missing instead of comparing
    with what the few tags here say."""
    shallow = tmp_path / "shallow"
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "2",
        "--no-single-branch",
        f"file://{released}",
        str(shallow),
    )
    done = tether(shallow, "report", "--base", "origin/main", "--head", "origin/feature")
    assert done.returncode == 0, done.stderr
    assert "prod is" not in done.stdout
    assert done.stdout.startswith("## :information_source: tether: no gates configured\n")
    body = re.sub(r"\\(.)", r"\1", done.stdout)  # the Markdown escapes undone
    registry = body[body.index("### Registry\n") :].splitlines()
    assert registry[2] == (
        "- :warning: comparing with the registry's stages needs every registry tag, and this "
        "clone is shallow (`git clone --depth`), so tags beyond its depth are missing. Fetch "
        "every tag: `git fetch --tags --unshallow` (CI: actions/checkout with `fetch-depth: 0`). "
        "Or, when every tag is already fetched: TETHER_ALLOW_INCOMPLETE_REGISTRY=1."
    )
