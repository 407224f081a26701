"""The API on small git repos (no DVC needed for Git-tracked files)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import commit_all, init_repo, write_tree
from tether.metrics.api import diff, snapshot


def test_new_metrics_file_and_templated_stage(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", dvc=False)
    first = commit_all(root, "empty")
    write_tree(
        root,
        {
            "dvc.yaml": "metrics:\n  - m.json\n",
            "m.json": '{"a": 1, "s": "x"}',
            "models/dvc.yaml": (
                "stages:\n  fit:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n"
                "      metrics:\n        - ${item}.json\n"
                "  score:\n    cmd: echo\n    metrics:\n      - ${name}.json\n"
            ),
        },
    )
    second = commit_all(root, "metrics")
    result = diff(root, first, second)
    assert [(r.path, r.key, r.old, r.new) for r in result.changed()] == [
        ("m.json", "a", None, 1),
        ("m.json", "s", None, "x"),
    ]
    assert result.errors[first] == []
    messages = sorted(e.message for e in result.errors[second])
    assert messages == [
        "models/dvc.yaml names this file with a ${...} template, which tether does not expand",
        "stage 'fit' uses foreach/matrix, which tether does not expand",
    ]


def test_many_revisions_share_parsed_blobs(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", dvc=False)
    write_tree(root, {"dvc.yaml": "metrics:\n  - sub/m.yaml\n", "sub/m.yaml": "acc: 0.5\n"})
    commits = [commit_all(root, "one")]
    for value in ("0.6", "0.7"):
        write_tree(root, {"sub/m.yaml": f"acc: {value}\n"})
        commits.append(commit_all(root, value))
    from tether.backends.git import GitRepo
    from tether.metrics.collect import Collector

    with GitRepo(root) as git:
        collector = Collector(root, git)
        snaps = collector.at_commits([(c[:7], c) for c in commits])
    assert [s.metrics["sub/m.yaml"]["acc"] for s in snaps] == [0.5, 0.6, 0.7]
    # dvc.yaml is the same blob at every commit: parsed once.
    assert sum(1 for key in collector._parsed if key[1] == "yaml") == 4
    assert snapshot(root, None).metrics == {"sub/m.yaml": {"acc": 0.7}}


def test_git_tracked_metrics_directory(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", dvc=False)
    write_tree(
        root,
        {
            "dvc.yaml": "metrics:\n  - scores\n",
            "scores/a.json": '{"x": 1}',
            "scores/deep/b.yaml": "y: 2\n",
        },
    )
    first = commit_all(root, "one")
    write_tree(root, {"scores/deep/b.yaml": "y: 3\n"})
    result = diff(root, first, None)
    assert [(r.path, r.key, r.old, r.new) for r in result.rows] == [
        ("scores/a.json", "x", 1, 1),
        ("scores/deep/b.yaml", "y", 2, 3),
    ]
    assert not result.failed


def _git_children() -> dict[str, str]:
    """{pid: command line} of this process's child processes that run git."""
    import os

    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and "git" in cmdline:
            found[pid] = cmdline
    return found


def test_snapshot_leaves_no_git_process_behind(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo", dvc=False)
    write_tree(root, {"dvc.yaml": "metrics:\n  - m.json\n", "m.json": '{"a": 1}'})
    commit_all(root, "metrics")
    before = _git_children()  # another test in this process may have left its own
    assert snapshot(root, "HEAD").metrics == {"m.json": {"a": 1}}
    assert {pid: cmd for pid, cmd in _git_children().items() if pid not in before} == {}
