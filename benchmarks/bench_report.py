"""`tether report` against the DVC + GTO commands a workflow would glue together for
the same comment.

One repository (git-tracked metrics and params, a registry of RELEASES versions with
prod and staging assigned, a pull-request branch) is built once. Then, as a user runs
them (a fresh process each, median of several runs):

* tether:  `tether report --base main --head feature`
* DVC+GTO: `dvc metrics diff main feature --md`, `dvc params diff main feature --md`,
  `gto show --json`, `dvc metrics diff <prod tag> feature` and
  `dvc metrics diff <staging tag> feature` (the stage comparisons), and
  `dvc metrics show -T` (the release history); their times added up.

The glued version still lacks the gates, the escaping and the chart; the point is
what the same reads cost.

    .venv/bin/python benchmarks/bench_report.py              # 20 releases
    .venv/bin/python benchmarks/bench_report.py --releases 50 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, ENV, compile_tether

MODEL = "model"
DVC_YAML = """\
stages:
  evaluate:
    cmd: python evaluate.py
    params:
      - model
      - train
    metrics:
      - metrics.json:
          cache: false
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, env=ENV
    )
    return done.stdout.strip()


def commit(root: Path, release: int, message: str) -> None:
    metrics = {
        "accuracy": 0.90 + release / 1000,
        "f1": 0.88 + release / 900,
        "loss": 0.3 - release / 500,
    }
    (root / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (root / "params.yaml").write_text(
        f"model:\n  name: forest\n  n_estimators: {100 + release}\n  max_depth: {release % 7}\n"
        f"train:\n  seed: 42\n  test_size: 0.2\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def build(root: Path, releases: int) -> dict[str, str]:
    """main with ``releases`` registered versions, prod and staging assigned, and a
    branch ``feature`` one commit ahead. Returns the stage -> tag to diff against."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    subprocess.run([BIN / "dvc", "init", "-q"], cwd=root, check=True, env=ENV)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "evaluate.py").write_text("print('evaluate')\n")
    for i in range(releases):
        commit(root, i, f"release {i}")
        git(root, "tag", "-a", f"{MODEL}@v0.{i}.0", "-m", f"Registering {MODEL} v0.{i}.0")
    prod, staging = f"{MODEL}@v0.{releases // 2}.0", f"{MODEL}@v0.{releases - 1}.0"
    for counter, (stage, tag) in enumerate((("prod", prod), ("staging", staging)), start=1):
        git(
            root,
            "tag",
            "-a",
            f"{MODEL}#{stage}#{counter}",
            f"{tag}^{{commit}}",
            "-m",
            f"Assign {stage}",
        )
    git(root, "checkout", "-q", "-b", "feature")
    commit(root, releases + 3, "the pull request")
    git(root, "checkout", "-q", "main")
    return {"prod": prod, "staging": staging}


def timed(cmd: list[str], cwd: Path, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
        samples.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr}")
    return statistics.median(samples)


def main() -> int:
    compile_tether()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tether-bench-report-") as tmp:
        root = Path(tmp) / "repo"
        stages = build(root, args.releases)
        report = [BIN / "tether", "report", "--base", "main", "--head", "feature"]
        body = subprocess.run(
            report, cwd=root, capture_output=True, text=True, env=ENV, check=True
        ).stdout
        prod = stages["prod"].split("@")[1]
        assert f"prod is {prod}; this PR vs prod:" in body and "| metrics.json | f1 |" in body, body
        ours = timed(report, root, args.runs)
        glued = {
            "dvc metrics diff": [BIN / "dvc", "metrics", "diff", "main", "feature", "--md"],
            "dvc params diff": [BIN / "dvc", "params", "diff", "main", "feature", "--md"],
            "gto show": [BIN / "gto", "show", "--json"],
            "dvc metrics diff prod": [BIN / "dvc", "metrics", "diff", stages["prod"], "feature"],
            "dvc metrics diff staging": [
                BIN / "dvc",
                "metrics",
                "diff",
                stages["staging"],
                "feature",
            ],
            "dvc metrics show -T": [BIN / "dvc", "metrics", "show", "-T"],
        }
        times = {name: timed(cmd, root, args.runs) for name, cmd in glued.items()}
    total = sum(times.values())
    print(f"report of a PR, {args.releases} releases, median of {args.runs} runs")
    for name, seconds in times.items():
        print(f"  {name:<28} {seconds * 1000:8.0f} ms")
    print(f"  {'DVC + GTO, added up':<28} {total * 1000:8.0f} ms")
    print(f"  {'tether report':<28} {ours * 1000:8.0f} ms")
    print(f"  DVC + GTO / tether report = {total / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
