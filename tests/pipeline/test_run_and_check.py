"""`tether run` and `tether check` on a real git + DVC copy of the template."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml

from tests.helpers import commit_all, dvc, git, run, tether

OVERRIDES = Path(".tether/overrides.yaml")


def _snapshot(repo: Path) -> tuple[bytes, bytes | None]:
    overrides = repo / OVERRIDES
    return (
        repo / "params.yaml"
    ).read_bytes(), overrides.read_bytes() if overrides.exists() else None


def test_fresh_template_is_reproducible(template_repo):
    proc = tether(template_repo, "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("reproducible: the workspace matches commit ")
    assert len(proc.stdout.strip().splitlines()) == 1

    data = json.loads(tether(template_repo, "check", "--json").stdout)
    assert data == {
        "reproducible": True,
        "commit": git(template_repo, "rev-parse", "HEAD"),
        "problems": [],
    }


def test_forced_repro_leaves_dvc_lock_byte_identical(template_repo):
    before = (template_repo / "dvc.lock").read_bytes()
    dvc(template_repo, "repro", "-f")
    assert (template_repo / "dvc.lock").read_bytes() == before
    assert tether(template_repo, "check").returncode == 0


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("model=nope", ["Could not find 'model/nope'", "random_forest"]),
        (
            "model.params.nope=1",
            ["conf/ has no key 'model.params.nope'", "`+model.params.nope=...`"],
        ),
        ("model.params.CC=2", ["Did you mean model.params.C?"]),
        ("model.params.c=2", ["Did you mean model.params.C?"]),  # case aside
        ("modle.params.C=2", ["Did you mean model.params.C?"]),  # any part of the key
        ("model=5", ["invalid override", "Got int", "e.g. `model=random_forest`"]),
        ("model=null", ["invalid override", "Got NoneType"]),
        ("model==", ["malformed override", "Error parsing override 'model=='"]),
        ("+stamp=${now:%H%M}", ["'+stamp=${now:%H%M}' depends on the time or environment"]),
        ("+home=${oc.env:HOME}", ["depends on the time or environment"]),
        ("numerics=bogus", ["unknown numerics profile 'bogus'", "x86-64-v2, x86-64-v3, native"]),
    ],
)
def test_bad_override_fails_clearly_and_writes_nothing(template_repo, override, words):
    before = _snapshot(template_repo)
    proc = tether(template_repo, "run", override)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ")
    for word in words:
        assert word in proc.stderr
    assert _snapshot(template_repo) == before
    assert not [p for p in template_repo.iterdir() if p.name.startswith(".params.yaml")]


def test_time_dependent_config_key_is_named(template_repo):
    config = template_repo / "conf/config.yaml"
    config.write_text(config.read_text() + "run_id: ${now:%Y%m%d}\n")
    before = _snapshot(template_repo)
    proc = tether(template_repo, "run")
    assert proc.returncode == 2
    assert "config key 'run_id'" in proc.stderr
    assert _snapshot(template_repo) == before


def test_run_records_reuses_and_resets_overrides(template_repo):
    proc = tether(template_repo, "run", "model=random_forest", "model.params.n_estimators=20")
    assert proc.returncode == 0, proc.stderr
    assert "[3/4] train ran in" in proc.stderr
    assert "[1/4] ingest up to date" in proc.stderr
    recorded = yaml.safe_load((template_repo / OVERRIDES).read_text())
    assert recorded == {"overrides": ["model=random_forest", "model.params.n_estimators=20"]}
    params = yaml.safe_load((template_repo / "params.yaml").read_text())
    assert params["model"]["name"] == "random_forest"
    assert params["model"]["params"]["n_estimators"] == 20

    # The same composition DVC's own Hydra integration writes.
    ours = (template_repo / "params.yaml").read_bytes()
    dvc(
        template_repo,
        "exp",
        "run",
        "-S",
        "model=random_forest",
        "-S",
        "model.params.n_estimators=20",
    )
    assert (template_repo / "params.yaml").read_bytes() == ours

    proc = tether(template_repo, "run")
    assert "overrides: model=random_forest model.params.n_estimators=20" in proc.stdout
    assert "Everything is up to date: no stage of 4 needed to run." in proc.stdout
    # tether says each stage is up to date; DVC's own line saying it is left out.
    assert "[4/4] evaluate up to date" in proc.stderr + proc.stdout
    assert "didn't change, skipping" not in proc.stderr + proc.stdout
    assert (
        yaml.safe_load((template_repo / "params.yaml").read_text())["model"]["name"]
        == "random_forest"
    )

    proc = tether(template_repo, "run", "--reset")
    assert proc.returncode == 0
    assert "overrides: (none)" in proc.stdout
    assert yaml.safe_load((template_repo / OVERRIDES).read_text()) == {"overrides": []}
    assert (
        yaml.safe_load((template_repo / "params.yaml").read_text())["model"]["name"]
        == "logistic_regression"
    )


def test_new_config_key_without_rerun_fails_check(template_repo):
    config = template_repo / "conf/config.yaml"
    config.write_text(config.read_text() + "extra: 1\n")
    commit_all(template_repo, "add a key")
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert "params.yaml is not the composition of conf/ with no overrides" in proc.stdout
    assert "fix: tether run" in proc.stdout


def test_failed_check_is_reported_once_through_the_error_path(template_repo):
    """The problems go to stdout (or --json); the failure itself is a CheckFailed
    that main prints on stderr with the next command, as for every command."""
    (template_repo / "models/model.pkl").unlink()
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert proc.stdout.startswith("not reproducible: ")
    assert "fix: dvc checkout models/model.pkl" in proc.stdout
    assert proc.stderr == (
        "error: the workspace does not reproduce exactly from Git\n"
        "Apply each fix listed, then run `tether check` again.\n"
    )


def test_output_rewritten_with_same_size_and_mtime_is_caught(template_repo):
    dvc(template_repo, "status")  # DVC records inode, size and mtime in its state db
    metrics = template_repo / "reports/metrics.json"
    stat = metrics.stat()
    data = bytearray(metrics.read_bytes())
    data[-3] = ord("0") if data[-3] != ord("0") else ord("1")
    metrics.write_bytes(bytes(data))
    os.utime(metrics, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    proc = tether(template_repo, "check", "--json")
    assert proc.returncode == 1
    problems = json.loads(proc.stdout)["problems"]
    mine = [p for p in problems if p["subject"] == "reports/metrics.json"]
    assert mine and "differs from its hash in dvc.lock" in mine[0]["message"]


def test_missing_cached_output_is_reported_with_checkout_fix(template_repo):
    (template_repo / "models/model.pkl").unlink()
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert "out models/model.pkl of stage 'train' is missing" in proc.stdout
    assert "fix: dvc checkout models/model.pkl" in proc.stdout


def test_changed_code_is_stale_and_uncommitted(template_repo):
    code = template_repo / "src/tabular_classifier/evaluate.py"
    code.write_text(code.read_text() + "\n# changed\n")
    proc = tether(template_repo, "check", "--json")
    assert proc.returncode == 1
    problems = json.loads(proc.stdout)["problems"]
    kinds = {(p["kind"], p["subject"]) for p in problems}
    assert ("stale", "evaluate") in kinds
    assert ("uncommitted", "src/tabular_classifier/evaluate.py") in kinds
    uncommitted = next(p for p in problems if p["kind"] == "uncommitted")
    assert uncommitted["fix"] == "git add src/tabular_classifier/evaluate.py && git commit"


def test_changed_param_names_the_stage_and_key(template_repo):
    params = template_repo / "params.yaml"
    params.write_text(params.read_text().replace("threshold: 0.5", "threshold: 0.6"))
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert "stage 'evaluate' is out of date" in proc.stdout
    assert "params.yaml:evaluate modified" in proc.stdout
    assert "params.yaml is not the composition of conf/" in proc.stdout


def test_uncommitted_output_kept_in_git_is_reported(template_repo):
    metrics = template_repo / "reports/metrics.json"
    tether(template_repo, "run", "evaluate.threshold=0.7", check=True)
    commit_all(template_repo, "everything")
    metrics.write_text(metrics.read_text())  # same bytes: nothing to report
    assert tether(template_repo, "check").returncode == 0
    # Commit everything except the regenerated metrics: the commit's metrics would
    # disagree with its own dvc.lock.
    tether(template_repo, "run", "evaluate.threshold=0.3", check=True)
    git(template_repo, "add", "params.yaml", ".tether/overrides.yaml", "dvc.lock")
    git(template_repo, "commit", "-q", "-m", "params and lock only")
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert "reports/metrics.json is changed since the last commit" in proc.stdout
    # Files to commit are gathered into one problem with one command.
    assert "file(s) that stages use or write are not committed:" in proc.stdout
    assert proc.stdout.count("fix: git add") == 1
    assert "fix: git add reports/metrics.json reports/plots/" in proc.stdout


def test_repository_without_commits_is_not_reproducible(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q")
    dvc(root, "init", "-q")
    proc = tether(root, "check")
    assert proc.returncode == 1
    assert "the repository has no commit yet" in proc.stdout


def test_missing_output_not_in_cache_points_to_pull(template_repo):
    import shutil

    shutil.rmtree(template_repo / ".dvc/cache")
    (template_repo / "models/model.pkl").unlink()
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert "fix: dvc pull models/model.pkl (or `tether run` to rebuild it)" in proc.stdout


def test_failing_stage_says_how_to_go_back(template_repo):
    proc = tether(template_repo, "run", "model=random_forest", "model.params.n_estimators=abc")
    # The stage's own command failed: exit 4, not 3 (git, DVC or a remote failed).
    assert proc.returncode == 4, proc.stderr
    assert "error: stage 'train' failed: failed to run: " in proc.stderr
    assert "exited with 1" in proc.stderr
    # DVC deleted the stage's output before running it: named, with the way back
    assert not (template_repo / "models/model.pkl").exists()
    back = (
        "git checkout -- params.yaml .tether/overrides.yaml"
        " && dvc checkout --force models/model.pkl models/schema.json"
    )
    missing = "Now missing: models/model.pkl, models/schema.json."
    assert f"{missing} Back to the last commit, outputs included:" in (proc.stderr)
    assert f"`{back}`" in proc.stderr
    for command in back.split(" && "):
        run(*command.split(), cwd=template_repo)
    assert tether(template_repo, "check").returncode == 0


def test_the_way_back_after_an_interrupt_replaces_a_half_written_output(template_repo):
    """What `tether run` says after Ctrl-C, run as written, when the stage had begun
    to write its model: a plain `dvc checkout` refuses to replace that file."""
    from tether.pipeline.run import _interrupted_hint

    back = _interrupted_hint().split("`")[1]
    (template_repo / "params.yaml").write_text("model: {}\n")
    model = template_repo / "models/model.pkl"
    model.unlink()
    model.write_bytes(b"half a pickle")
    for command in back.split(" && "):
        run(*command.split(), cwd=template_repo)
    assert tether(template_repo, "check").returncode == 0


def test_data_added_with_dvc_add_must_be_committed_and_match(template_repo):
    table = template_repo / "data/mine/table.csv"
    table.parent.mkdir(parents=True)
    table.write_text("a,label\n1,0\n2,1\n")
    dvc(template_repo, "add", "-q", "data/mine/table.csv")
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert "data/mine/table.csv.dvc is untracked" in proc.stdout
    assert "data/mine/.gitignore is untracked" in proc.stdout

    commit_all(template_repo, "add my table")
    assert tether(template_repo, "check").returncode == 0
    table.write_text("a,label\n1,0\n2,1\n3,1\n")
    proc = tether(template_repo, "check", "--json")
    assert proc.returncode == 1
    problem = next(p for p in json.loads(proc.stdout)["problems"] if p["kind"] == "data")
    assert problem["subject"] == "data/mine/table.csv.dvc"
    assert (
        problem["fix"]
        == "dvc add data/mine/table.csv (to record the new data), then commit data/mine/table.csv.dvc"
    )


def test_a_deleted_data_folder_is_deleted_with_a_restore_fix(template_repo):
    """`rm -rf data/raw` removes the .gitignore DVC wrote there too: that is a
    deletion to undo, never a file to `git add` (which would commit the deletion)."""
    import shutil

    shutil.rmtree(template_repo / "data/raw")
    proc = tether(template_repo, "check")
    assert proc.returncode == 1
    assert (
        "data/raw/.gitignore is deleted from the work tree; the commit still has it" in proc.stdout
    )
    assert "fix: git restore --source=HEAD --staged --worktree -- data/raw/.gitignore" in (
        proc.stdout
    )
    assert "git add data/raw/.gitignore" not in proc.stdout
    assert "out data/raw/dataset.csv of stage 'ingest' is missing" in proc.stdout


def test_overrides_that_replaced_recorded_ones_are_named_with_the_full_command(template_repo):
    """The recorded `model=random_forest` is replaced, not extended, by a new
    `tether run model.params.max_depth=5`: say so, and give the command that keeps it."""
    (template_repo / OVERRIDES).write_text("overrides:\n- model=random_forest\n")
    before = (template_repo / "params.yaml").read_bytes()
    proc = tether(template_repo, "run", "model.params.max_depth=5")
    assert proc.returncode == 2, proc.stdout
    assert (
        "the overrides given replace the recorded ones (model=random_forest) rather than "
        "adding to them"
    ) in proc.stderr
    assert "Keep them: `tether run model=random_forest model.params.max_depth=5`." in proc.stderr
    assert "+model.params.max_depth" not in proc.stderr
    assert (template_repo / "params.yaml").read_bytes() == before

    # A typo that is one even with the recorded overrides: named as it reads with them.
    typo = tether(template_repo, "run", "model.params.n_estimator=300")
    assert typo.returncode == 2, typo.stdout
    assert "the overrides given replace the recorded ones (model=random_forest)" in typo.stderr
    assert "Did you mean model.params.n_estimators?" in typo.stderr
    assert "Keep the recorded ones with `tether run model=random_forest OVERRIDE...`" in (
        typo.stderr
    )
    assert "+model.params.n_estimator" not in typo.stderr


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _locked_c(root: Path) -> object:
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return lock["stages"]["train"]["params"]["params.yaml"]["model"]["params"]["C"]


def test_a_param_that_changed_only_its_type_reruns_its_stage(template_repo):
    """`C: 1.0` built the model; `tether run model.params.C=1` writes `C: 1`, which DVC
    calls unchanged: tether runs train forced all the same, says so, and the model is
    the one an int builds (the int is pickled with it)."""
    float_model = _md5(template_repo / "models/model.pkl")
    assert _locked_c(template_repo) == 1.0

    # From a subdirectory, where DVC names the stage `../dvc.yaml:train`.
    proc = tether(template_repo / "src", "run", "model.params.C=1")
    assert proc.returncode == 0, proc.stderr
    assert "[3/4] train ... (forced: params changed type (model.params.C 1.0 -> 1))" in (
        proc.stderr
    )
    assert "[3/4] train ran in" in proc.stderr
    assert "[2/4] prepare up to date" in proc.stderr  # only the retyped stage is forced
    assert "\ntrain: params changed type (model.params.C 1.0 -> 1): ran\n" in proc.stdout
    # evaluate runs as DVC decides: its dependency, the model, changed
    assert "params.yaml updated; 2 of 4 stages ran." in proc.stdout
    locked = _locked_c(template_repo)
    assert locked == 1 and type(locked) is int
    assert _md5(template_repo / "models/model.pkl") != float_model

    commit_all(template_repo, "C as an int")
    check = tether(template_repo, "check")
    assert check.returncode == 0, check.stdout
    assert check.stdout.startswith("reproducible: ")

    # Nothing changed since: nothing runs, nothing is forced.
    again = tether(template_repo, "run")
    assert again.returncode == 0, again.stderr
    assert "Everything is up to date: no stage of 4 needed to run." in again.stdout
    assert "forced" not in again.stderr and "changed type" not in again.stdout


def test_check_names_a_param_that_changed_only_its_type(template_repo):
    """The same state made without tether (`dvc repro` skips train): check says so,
    and the `tether run` it names rebuilds the model."""
    conf = template_repo / "conf/model/logistic_regression.yaml"
    conf.write_text(conf.read_text().replace("  C: 1.0\n", "  C: 1\n"))
    params = template_repo / "params.yaml"
    params.write_text(params.read_text().replace("    C: 1.0\n", "    C: 1\n"))
    dvc(template_repo, "repro")
    assert _locked_c(template_repo) == 1.0
    commit_all(template_repo, "C as an int in conf/")

    proc = tether(template_repo, "check")
    assert proc.returncode == 1, proc.stdout
    assert "not reproducible: 1 problem(s)" in proc.stdout
    assert (
        "params.yaml model.params.C is 1 (int) but stage 'train' was built with 1.0 (float)"
        in proc.stdout
    )
    assert "fix: tether run\n" in proc.stdout

    fixed = tether(template_repo, "run")
    assert "train: params changed type (model.params.C 1.0 -> 1): ran" in fixed.stdout
    commit_all(template_repo, "rebuilt with the int")
    assert tether(template_repo, "check").returncode == 0
