"""`tether tune` end to end on a tiny Hydra + DVC project: failures recorded and
the sweep going on, a bad sweep writing nothing, Ctrl-C leaving nothing behind,
resume after SIGKILL, determinism across --jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, git, tether
from tests.tune.conftest import exp_refs, kill_tree, show, wait_for, worktrees

pytestmark = pytest.mark.slow


def test_failed_and_nan_trials_are_recorded_and_the_sweep_goes_on(
    tiny: Path, tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = tether(
        tiny,
        "tune",
        "mode=ok,fail,void,die",
        "x=2,3",
        "--metric",
        "score",
        "--jobs",
        "2",
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 trial(s) ran, 6 failed" in proc.stdout
    assert "best: trial 1 " in proc.stdout and "score=0 with mode=ok x=3" in proc.stdout
    # Not a terminal: one progress line per finished trial instead of a live line.
    progress = [line for line in proc.stderr.splitlines() if line.startswith("tune: ")]
    assert len(progress) == 8, proc.stderr
    assert progress[-1].startswith("tune: 2/8 done, 0 running, 6 failed; best score ")
    board = show(tiny)
    states = {tuple(t["overrides"]): (t["state"], t["reason"]) for t in board["trials"]}
    assert states[("mode=ok", "x=2")] == ("complete", None)
    state, reason = states[("mode=fail", "x=3")]
    assert state == "failed" and "stage 'score' failed" in reason and "exited with" in reason
    state, reason = states[("mode=void", "x=2")]
    assert state == "failed" and reason == "metric score is nan, not a finite number"
    assert "trial 2 failed: stage 'score' failed" in proc.stderr
    # A worker killed in the middle of a trial fails that trial; a fresh worker
    # runs the next ones (the trials after the kills completed).
    for x in ("x=2", "x=3"):
        state, reason = states[("mode=die", x)]
        assert state == "failed" and reason.startswith("the trial process exited with -9")
    # Only finished trials are experiments; no worktree is left.
    assert len(exp_refs(tiny)) == 2
    assert worktrees(tiny) == 1
    assert list(tmp.iterdir()) == []


def test_a_bad_sweep_writes_nothing(tiny: Path) -> None:
    before = git(tiny, "status", "--porcelain", "--ignored")
    proc = tether(tiny, "tune", "x=1,2", "y=3,4", "--metric", "score")
    assert proc.returncode == 2
    assert "conf/ has no key 'y' (in the trial x=1 y=3)" in proc.stderr
    assert worktrees(tiny) == 1  # the trial workers, started early, are gone with theirs
    proc = tether(tiny, "tune", "x=1,2", "mode=${oc.env:HOME}", "--metric", "score")
    assert proc.returncode == 2 and "depends on the time or environment" in proc.stderr
    proc = tether(tiny, "tune", "x=interval(0,1)", "--metric", "score")
    assert proc.returncode == 2 and "an interval has no grid points" in proc.stderr
    proc = tether(tiny, "tune", "x=1,2", "--metric", "nope")
    assert proc.returncode == 2 and "no metric 'nope'" in proc.stderr and "score" in proc.stderr
    proc = tether(tiny, "tune", "x=1,2")
    assert proc.returncode == 2 and "--metric NAME" in proc.stderr
    assert git(tiny, "status", "--porcelain", "--ignored") == before
    assert not (tiny / ".tether" / "tune.db").exists()
    assert exp_refs(tiny) == {}


def _popen(repo: Path, tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "tether"), "tune", *args],
        cwd=repo,
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _two_sleeping_trials(tiny: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """A sweep (--jobs 2) once both its trials are inside their 60 s stage; its TMPDIR."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _popen(tiny, tmp, "x=1,2", "sleep=60", "--metric", "score", "--jobs", "2")

    def both_running() -> bool:
        logs = list(tmp.glob("tether-tune-*/trial.log"))
        return len(logs) == 2 and all("> python score.py" in p.read_text() for p in logs)

    wait_for(both_running, proc, "two running trials")
    return proc, tmp


def test_ctrl_c_leaves_no_worktree_nor_experiment(tiny: Path, tmp_path: Path) -> None:
    proc, tmp = _two_sleeping_trials(tiny, tmp_path)
    assert worktrees(tiny) == 3
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "error: interrupted; the running trials were stopped and their worktrees removed" in err
    assert "Run the same command again to resume" in err
    assert list(tmp.iterdir()) == []
    assert worktrees(tiny) == 1
    assert exp_refs(tiny) == {}
    board = show(tiny)
    states = sorted((t["state"], t["reason"]) for t in board["trials"])
    # Both trials were interrupted and are waiting to run again.
    assert states == [("interrupted", "interrupted")] * 2 + [("waiting", None)] * 2


def test_kill_9_of_tether_alone_stops_its_workers_and_their_stages(
    tiny: Path, tmp_path: Path
) -> None:
    import psutil

    proc, _ = _two_sleeping_trials(tiny, tmp_path)
    under = psutil.Process(proc.pid).children(recursive=True)
    assert sum("_worker" in " ".join(p.cmdline()) for p in under) == 2
    os.kill(proc.pid, signal.SIGKILL)  # tether alone, which can pass nothing on
    proc.communicate()
    # Each worker sees its parent gone and stops, its stage command with it, long
    # before the 60 s trials would have ended; nothing was saved.
    _, alive = psutil.wait_procs(under, timeout=20)
    for left in alive:  # leave nothing running when the check fails
        left.kill()
    assert alive == []
    assert exp_refs(tiny) == {}


def test_resume_after_sigkill_runs_no_finished_trial_again(tiny: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    args = ("x=range(0,5)", "sleep=0.5", "--metric", "score", "--study", "r")
    proc = _popen(tiny, tmp, *args)
    wait_for(lambda: _complete(tiny) >= 2, proc, "two finished trials")
    kill_tree(proc)  # kill -9: no cleanup at all
    before = {t["number"]: t for t in show(tiny)["trials"] if t["state"] == "complete"}
    assert len(before) >= 2

    again = tether(tiny, "tune", *args, env={**os.environ, "TMPDIR": str(tmp)})
    assert again.returncode == 0, again.stderr
    # The resumed sweep removed the worktree the killed process left.
    assert worktrees(tiny) == 1
    assert list(tmp.iterdir()) == []
    assert f"{len(before)} finished before" in again.stdout
    board = show(tiny, "--study", "r")
    complete = [t for t in board["trials"] if t["state"] == "complete"]
    # Every grid point finished exactly once; the trials finished before the kill
    # are the same trials (same experiment commits), not runs of them again.
    assert sorted(t["overrides"][1] for t in complete) == [f"x={i}" for i in range(5)]
    assert all(t["overrides"][0] == "sleep=0.5" for t in complete)
    for number, trial in before.items():
        assert next(t for t in complete if t["number"] == number)["commit"] == trial["commit"]
    # One experiment per grid point: a trial saved just before the kill but not yet
    # recorded is read back from its experiment, not run again.
    assert sorted(exp_refs(tiny).values()) == sorted(c["commit"] for c in complete)


def _complete(repo: Path) -> int:
    """Finished trials in the study's SQLite file (read directly: polled often)."""
    import sqlite3

    db = repo / ".tether" / "tune.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()
        except sqlite3.OperationalError:  # tables not created yet
            return 0
    return int(row[0])


def test_random_search_is_the_same_at_jobs_1_and_2(tiny: Path, tmp_path: Path) -> None:
    from tests.helpers import copy_repo

    other = copy_repo(tiny, tmp_path / "other")
    # mode=fresh: each trial fails if an earlier one left its ignored scratch file,
    # so the trials a worker runs one after another each start from a clean worktree.
    args = ("x=interval(0,6)", "mode=fresh", "--sampler", "random", "--trials", "4")
    results = []
    for repo, jobs in ((tiny, "1"), (other, "2")):
        proc = tether(repo, "tune", *args, "--seed", "11", "--metric", "score", "--jobs", jobs)
        assert proc.returncode == 0, proc.stderr
        assert "4 trial(s) ran, 0 failed" in proc.stdout, proc.stdout + proc.stderr
        trials = show(repo)["trials"]
        results.append({t["number"]: (t["overrides"], t["value"]) for t in trials})
    assert len(results[0]) == 4
    assert results[0] == results[1]


def test_apply_best_restores_outputs_and_diff_reads_the_trial(tiny: Path, tmp_path: Path) -> None:
    from tests.helpers import copy_repo

    other = copy_repo(tiny, tmp_path / "other")
    proc = tether(tiny, "tune", "x=2,3,5", "--metric", "score", "--study", "a")
    assert proc.returncode == 0, proc.stderr
    # The baseline (x=1.0 scores -4) is the leaderboard's first row, and the verdict
    # says whether the best trial beats it.
    head = git(tiny, "rev-parse", "HEAD")[:8]
    assert f"the baseline ({head}) has score=-4; trial 1 improves on it." in proc.stdout
    base = show(tiny, "--study", "a")["baseline_row"]
    assert (base["state"], base["value"], base["metrics"]) == ("baseline", -4.0, {"score": -4.0})
    assert (
        f"| base | {head} | baseline | (none recorded) | -4 |"
        in tether(tiny, "tune", "show", "--study", "a", "--md").stdout
    )
    # The three trials ran one after another in one worker and its one worktree;
    # each wrote what `tether run` writes, and changed only what the run changes.
    files = ("params.yaml", "dvc.lock", "score.json", ".tether/overrides.yaml")
    for name, x in (("a-1", "3"), ("a-2", "5")):
        ran = tether(other, "run", f"x={x}")
        assert ran.returncode == 0, ran.stderr
        commit = next(c for r, c in exp_refs(tiny).items() if r.endswith(f"/{name}"))
        for file in files:
            assert git(tiny, "show", f"{commit}:{file}") == (other / file).read_text().strip()
        changed = set(git(tiny, "diff", "--name-only", "HEAD", commit).split())
        assert {"params.yaml", "dvc.lock", ".tether/overrides.yaml"} <= changed <= set(files)
    # An uncommitted edit to a file the trial would write is never overwritten.
    params = (tiny / "params.yaml").read_text()
    (tiny / "params.yaml").write_text(params + "# my uncommitted note\n")
    refused = tether(tiny, "tune", "apply", "best")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "would overwrite uncommitted changes to params.yaml; nothing was changed" in (
        refused.stderr
    )
    assert "`git stash`" in refused.stderr
    assert (tiny / "params.yaml").read_text() == params + "# my uncommitted note\n"
    (tiny / "params.yaml").write_text(params)
    # So is a cached output edited since dvc.lock recorded it (git does not see it).
    model = (tiny / "model.txt").read_bytes()
    (tiny / "model.txt").write_bytes(b"my hand-made model\n")
    refused = tether(tiny, "tune", "apply", "best")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "would overwrite uncommitted changes to model.txt; nothing was changed" in (
        refused.stderr
    )
    assert (tiny / "model.txt").read_bytes() == b"my hand-made model\n"
    (tiny / "model.txt").write_bytes(model)
    applied = tether(tiny, "tune", "apply", "best")
    assert applied.returncode == 0, applied.stderr
    assert "applied trial 1 (a-1): x=3" in applied.stdout
    assert (tiny / "model.txt").read_text() == "x=3.0\n"
    assert "x: 3" in (tiny / "params.yaml").read_text()
    # DVC's apply leaves nothing of its own among the refs (EXEC_APPLY is removed).
    assert git(tiny, "for-each-ref", "refs/exps/exec") == ""
    assert "- x=3" in (tiny / ".tether" / "overrides.yaml").read_text()
    git(tiny, "add", "-A")
    git(tiny, "commit", "-q", "-m", "apply the best trial")
    check = tether(tiny, "check")
    assert check.returncode == 0 and "reproducible" in check.stdout, check.stdout
    diff = tether(tiny, "diff", "a-2", "HEAD", "--json")
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["metrics"]["score.json"]["score"]["old"] == -4.0
    missing = tether(tiny, "tune", "apply", "9")
    assert missing.returncode == 2 and "no trial '9' in study 'a'" in missing.stderr
    # A sweep whose best only ties the baseline (x=5 scores -4 too) says so: applying
    # it would change the params, not the model's score.
    tie = tether(other, "tune", "x=5,6", "--metric", "score", "--study", "b")
    assert tie.returncode == 0, tie.stderr
    assert "trial 0 (score=-4) does not beat the baseline (" in tie.stdout
    assert "applying it would not improve the model" in tie.stdout
    assert "tether tune apply best" not in tie.stdout
