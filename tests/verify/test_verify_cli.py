"""tether verify on a tiny pipeline through the real CLI: manifests, tolerances,
inputs from the local cache, directory outputs, bad or missing data, bad REFs."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest
import yaml

from tests.helpers import dvc, git, run, tether
from tests.verify.conftest import Tiny
from tether.errors import UsageError
from tether.verify.api import VerifyOptions, parse_tolerance, verify

pytestmark = pytest.mark.slow


def verify_json(repo: Path, *args: str) -> tuple[int, dict, str]:
    proc = tether(repo, "verify", *args, "--json")
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, proc.stderr


def statuses(report: dict) -> dict[str, str]:
    return {o["path"]: o["status"] for o in report["outputs"]}


def test_release_with_manifest_from_the_local_cache(tiny_copy: Path) -> None:
    code, report, _ = verify_json(tiny_copy, "t1")
    assert code == 0
    assert statuses(report) == {"out": "exact", "metrics.json": "exact"}
    assert report["source"] == "local cache"
    assert report["objects_fetched"] == 1  # data/input.txt, the pipeline's input
    out = next(o for o in report["outputs"] if o["path"] == "out")
    assert out["recorded"].endswith(".dir") and out["manifest"] == out["recorded"]
    env = {d["key"]: d for d in report["environment"]["differences"]}
    assert env["python"]["recorded"] == "2.7.18"
    assert env["python"]["current"] == platform.python_version()
    assert env["platform"]["recorded"] == "Plan9-4th-edition"
    assert env["packages.dvc"]["recorded"] == "0.0.1"
    assert env["threads.cpu_count"]["current"] == os.cpu_count()


def test_terminal_report_names_environment_differences(tiny_copy: Path) -> None:
    proc = tether(tiny_copy, "verify", "t1")
    assert proc.returncode == 0, proc.stderr
    assert "bit-exact: all 2 outputs of t1 reproduced exactly" in proc.stdout
    assert "environment differences (recorded -> now):" in proc.stdout
    assert f"  python: 2.7.18 -> {platform.python_version()}" in proc.stdout
    # Off a terminal, progress is one plain line per stage: no bar, no empty line.
    assert proc.stderr.startswith("  ran make in ")


def test_output_that_differs_from_the_release_manifest(tiny_copy: Path) -> None:
    proc = tether(tiny_copy, "verify", "t1-tampered")
    assert proc.returncode == 1
    lock = yaml.safe_load(git(tiny_copy, "show", "t1:dvc.lock"))
    recorded = next(o["md5"] for o in lock["stages"]["make"]["outs"] if o["path"] == "out")
    assert (
        f"  out differs: recorded {recorded}, reproduced {recorded}, "
        f"release manifest {'0' * 32}.dir"
    ) in proc.stdout
    assert "NOT reproduced: 1 of 2 outputs differ from t1-tampered: out" in proc.stdout


def test_a_differing_output_fails_through_the_one_error_path(tiny_copy: Path) -> None:
    """The report goes to stdout; the failure is a CheckFailed that main prints
    once, as every command's errors are, with the next command to run."""
    code, report, stderr = verify_json(tiny_copy, "t1-tampered")
    assert code == 1 and report["ok"] is False
    # The forged manifest records another Python and DVC: named as the layers.
    causes = {(c["layer"], c["detail"]) for c in report["causes"]}
    assert ("python", f"python 2.7.18 then, {platform.python_version()} now") in causes
    assert any(layer == "packages" and d.startswith("dvc 0.0.1 then, ") for layer, d in causes)
    assert stderr.endswith(
        "error: 1 of 2 outputs of t1-tampered were not reproduced\n"
        "Inspect the rebuild with `tether verify t1-tampered --keep`.\n"
    )


def test_from_remote_brings_inputs_and_directory_outputs(tiny_copy: Path) -> None:
    code, report, _ = verify_json(tiny_copy, "t1", "--remote", "local")  # implies --from-remote
    assert code == 0
    # input, the out/ listing and its two files
    assert report["objects_fetched"] == 4
    assert report["source"].startswith("remote local (")


def test_metric_off_by_less_than_the_tolerance_is_within_tolerance_not_exact(
    tiny_copy: Path,
) -> None:
    code, report, _ = verify_json(tiny_copy, "t2")
    assert code == 1
    assert statuses(report) == {"out": "exact", "metrics.json": "differs"}
    acc = next(m for m in report["metrics"] if m["name"] == "acc")
    assert acc["recorded"] == 0.9000001 and acc["reproduced"] == 0.9
    assert acc["difference"] == pytest.approx(-1e-7)
    assert acc["status"] == "differs"
    loss = next(m for m in report["metrics"] if m["name"] == "loss.train")
    assert loss["status"] == "exact"

    proc = tether(tiny_copy, "verify", "t2", "--tolerance", "acc=1e-6")
    assert proc.returncode == 0, proc.stderr
    assert (
        "reproduced within tolerance: 1 outputs bit-exact, 1 within tolerance: metrics.json"
        in proc.stdout
    )
    assert "bit-exact: all" not in proc.stdout

    code, report, _ = verify_json(tiny_copy, "t2", "--tolerance", "metrics.json:acc=1e-9")
    assert code == 1
    assert statuses(report)["metrics.json"] == "differs"


def test_bad_tolerance_is_a_usage_error(tiny_copy: Path) -> None:
    proc = tether(tiny_copy, "verify", "t1", "--tolerance", "x:y:z=1")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "error: --tolerance 'x:y:z=1' is not METRIC=ABS or FILE:METRIC=ABS\n"
        "Accepted forms: METRIC=ABS (accuracy=0.001; "
    )


@pytest.mark.parametrize("tolerance", ["nosuch=1e-6", "other.json:acc=1"])
def test_tolerance_naming_no_recorded_metric_is_refused_before_anything_runs(
    tiny_copy: Path, tolerance: str
) -> None:
    proc = tether(tiny_copy, "verify", "t1", "--tolerance", "acc=1", "--tolerance", tolerance)
    assert proc.returncode == 2
    name = tolerance.partition("=")[0]
    assert proc.stderr == (
        f"error: --tolerance names a metric that t1 did not record: {name!r}\n"
        "Metrics recorded at t1: acc, loss.train, model "
        "(as FILE:METRIC: metrics.json:acc, metrics.json:loss.train, metrics.json:model).\n"
    )  # no stage ran: no "ran make" line


def test_tolerances_are_checked_before_the_worktree_is_built(
    tiny: Tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether.verify import reproduce

    def no_worktree(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worktree was built")

    monkeypatch.setattr(reproduce, "temporary_worktree", no_worktree)
    with pytest.raises(UsageError, match="did not record: 'nosuch'"):
        verify(tiny.origin, "t1", VerifyOptions(tolerances=[parse_tolerance("nosuch=1e-6")]))


def test_tolerance_on_a_metrics_file_named_through_dvc_templating(tiny_copy: Path) -> None:
    """``${...}`` in dvc.yaml is DVC's to resolve: the check waits for the worktree."""
    dvc_yaml = tiny_copy / "dvc.yaml"
    text = dvc_yaml.read_text().replace("- metrics.json:", "- ${scores}:")
    dvc_yaml.write_text("vars:\n  - scores: metrics.json\n" + text)
    git(tiny_copy, "commit", "-q", "-am", "metrics file named by a variable")

    code, report, _ = verify_json(tiny_copy, "HEAD", "--tolerance", "acc=1e-6")
    assert code == 0  # recorded 0.9000001 (as at t2), reproduced 0.9
    assert statuses(report)["metrics.json"] == "within tolerance"
    proc = tether(tiny_copy, "verify", "HEAD", "--tolerance", "nosuch=1")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "error: --tolerance names a metric that HEAD did not record: 'nosuch'\n"
    )


def test_tolerance_on_metrics_kept_only_in_the_dvc_cache(tiny_copy: Path) -> None:
    """metrics.json stored by DVC (not git) and absent from the local cache: the
    check waits until --from-remote has fetched it into the worktree."""
    dvc_yaml = tiny_copy / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("cache: false", "cache: true"))
    git(tiny_copy, "rm", "-q", "--cached", "metrics.json")
    (tiny_copy / ".gitignore").write_text("/metrics.json\n")
    dvc(tiny_copy, "commit", "-q", "-f")
    git(tiny_copy, "add", "-A")
    git(tiny_copy, "commit", "-q", "-m", "metrics in the DVC cache")
    dvc(tiny_copy, "push", "-q")
    md5 = next(
        o["md5"]
        for o in yaml.safe_load((tiny_copy / "dvc.lock").read_text())["stages"]["make"]["outs"]
        if o["path"] == "metrics.json"
    )
    cached = _object(tiny_copy / ".dvc" / "cache", md5)
    cached.chmod(0o644)
    cached.unlink()
    commit = git(tiny_copy, "rev-parse", "HEAD")[:8]

    proc = tether(tiny_copy, "verify", "HEAD", "--tolerance", "acc=1")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: --tolerance names a metric not found in the metrics of HEAD that could be "
        "read: 'acc'\n"
        "No recorded metric values of HEAD could be read. Recorded values could not be read "
        "from metrics.json, so no tolerance can apply there; for a file DVC stores, fetch it "
        f"(`dvc fetch --rev {commit}`) or verify with --from-remote.\n"
    )

    proc = tether(tiny_copy, "verify", "HEAD", "--from-remote", "--tolerance", "nosuch=1")
    assert proc.returncode == 2
    assert "error: --tolerance names a metric that HEAD did not record: 'nosuch'\n" in proc.stderr
    assert "Metrics recorded at HEAD: acc, loss.train, model (" in proc.stderr
    assert "ran make" not in proc.stderr  # refused after the fetch, before the stages

    # The recorded value (0.9000001, as at t2) is read from the fetched object.
    code, report, _ = verify_json(tiny_copy, "HEAD", "--from-remote", "--tolerance", "acc=1e-6")
    assert code == 0
    acc = next(m for m in report["metrics"] if m["name"] == "acc")
    assert (acc["recorded"], acc["status"]) == (0.9000001, "within tolerance")


def test_unknown_ref_exits_2(tiny_copy: Path) -> None:
    proc = tether(tiny_copy, "verify", "no-such-release")
    assert proc.returncode == 2
    # The message is the first line of stderr: no empty line left by the progress bar.
    assert proc.stderr.startswith("error: unknown revision 'no-such-release'\n")


def test_ref_without_dvc_lock_exits_2(tiny_copy: Path) -> None:
    first = git(tiny_copy, "rev-list", "--max-parents=0", "HEAD")
    proc = tether(tiny_copy, "verify", first)
    assert proc.returncode == 2
    assert "has no dvc.lock: nothing was recorded there to verify" in proc.stderr


def _object(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def test_corrupted_remote_object_is_named_and_nothing_is_deleted(
    tiny_copy: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    md5 = git(tiny_copy, "show", "t1:data/input.txt.dvc").split("md5: ")[1].split()[0]
    bad = _object(remote, md5)
    bad.chmod(0o644)
    bad.write_bytes(b"HELLO\n")  # same size, other bytes
    cache_before = sorted(
        p.relative_to(tiny_copy) for p in (tiny_copy / ".dvc" / "cache").rglob("*")
    )

    proc = tether(tiny_copy, "verify", "t1", "--from-remote")
    assert proc.returncode == 1
    assert "corrupted object(s) in the remote local" in proc.stderr
    assert f"{bad} (for data/input.txt) hashes to " in proc.stderr
    assert f"not {md5}" in proc.stderr
    assert "nothing was deleted" in proc.stderr
    assert bad.read_bytes() == b"HELLO\n"
    assert (
        sorted(p.relative_to(tiny_copy) for p in (tiny_copy / ".dvc" / "cache").rglob("*"))
        == cache_before
    )


def test_corrupted_object_in_the_local_cache_is_named_and_kept(tiny_copy: Path) -> None:
    md5 = git(tiny_copy, "show", "t1:data/input.txt.dvc").split("md5: ")[1].split()[0]
    cached = _object(tiny_copy / ".dvc" / "cache", md5)
    # Same size, read-only again: DVC's own checks (size, mode, state db) pass it.
    cached.chmod(0o644)
    cached.write_bytes(b"HELLO\n")
    cached.chmod(0o444)
    proc = tether(tiny_copy, "verify", "t1")
    assert proc.returncode == 1
    assert "corrupted object(s) in the local DVC cache; nothing was deleted" in proc.stderr
    assert f"{cached} (for data/input.txt) hashes to " in proc.stderr
    assert cached.read_bytes() == b"HELLO\n"


def test_data_missing_from_the_remote_names_outputs_and_dvc_push(
    tiny_copy: Path, tmp_path: Path
) -> None:
    for obj in (tmp_path / "remote").rglob("*.dir"):
        obj.unlink()
    md5 = git(tiny_copy, "show", "t1:data/input.txt.dvc").split("md5: ")[1].split()[0]
    _object(tmp_path / "remote", md5).unlink()
    commit = git(tiny_copy, "rev-parse", "t1^{commit}")[:8]

    proc = tether(tiny_copy, "verify", "t1", "--from-remote")
    assert proc.returncode == 3
    assert f"lacks data; missing for commit {commit}: data/input.txt, out" in proc.stderr
    assert f"`git checkout {commit} && dvc push -r local`" in proc.stderr


def test_input_missing_from_the_local_cache(tiny_copy: Path) -> None:
    md5 = git(tiny_copy, "show", "t1:data/input.txt.dvc").split("md5: ")[1].split()[0]
    cached = _object(tiny_copy / ".dvc" / "cache", md5)
    cached.chmod(0o644)
    cached.unlink()
    proc = tether(tiny_copy, "verify", "t1")
    assert proc.returncode == 3
    assert "the local DVC cache lacks data of commit" in proc.stderr
    assert "data/input.txt" in proc.stderr
    assert "--from-remote" in proc.stderr


def test_keep_leaves_the_worktree_and_the_stage_log(tiny_copy: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = tether(tiny_copy, "verify", "t1", "--keep", env={**os.environ, "TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stderr
    kept = next(tmp.glob("tether-verify-*/repo"))
    assert (kept / "out" / "a.txt").read_text() == "a: HELLO\n"
    # The stage command itself ran: its own words are in the log.
    assert "make ran with 6 input bytes" in (kept.parent / "stages.log").read_text()
    assert str(kept) in git(tiny_copy, "worktree", "list")
    # The command it prints removes everything it kept: nothing is left behind.
    remove = f"rm -rf {kept.parent} && git worktree prune"
    assert f"remove it with: {remove}" in proc.stdout
    for command in remove.split(" && "):
        run(*command.split(), cwd=tiny_copy)
    assert list(tmp.iterdir()) == []
    assert str(kept) not in git(tiny_copy, "worktree", "list")


def test_s3_remote_that_cannot_be_reached(
    tiny_copy: Path, s3_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.verify.conftest import _free_port

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore would retry for ~10 s
    dvc(tiny_copy, "remote", "add", "--local", "-d", "s3", "s3://nowhere/store")
    dvc(
        tiny_copy,
        "remote",
        "modify",
        "--local",
        "s3",
        "endpointurl",
        f"http://127.0.0.1:{_free_port()}",
    )
    proc = tether(tiny_copy, "verify", "t1", "--from-remote")
    assert proc.returncode == 3
    assert "the remote s3 (s3://nowhere/store) cannot be reached" in proc.stderr
    assert "data/input.txt" in proc.stderr and "dvc push -r s3" in proc.stderr


def test_failing_stage_exits_4_with_its_output(tiny_copy: Path) -> None:
    proc = tether(tiny_copy, "verify", "broken")
    assert proc.returncode == 4  # the stage's own command failed, as in `tether run`
    assert proc.stderr.startswith(
        "error: stage 'make' failed: failed to run: python src/make.py, exited with 1\n"
    )
    assert "  | make: the input is broken" in proc.stderr
    assert git(tiny_copy, "worktree", "list", "--porcelain").count("worktree ") == 1


def _logging_git(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ``git`` is a wrapper that logs each call, one per line,
    before running the real git."""
    import shutil
    import stat

    real = shutil.which("git")
    assert real
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "git-calls.log"
    wrapper = shim / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}, log


def test_verify_of_a_stage_reference_reads_the_registry_once(
    tiny_copy: Path, tmp_path: Path
) -> None:
    """`tether verify NAME#STAGE` resolves the commit and the release's manifest in
    one registry read: the tags are listed once, and shallowness is asked once."""
    spec = yaml.safe_load((tiny_copy / "dvc.yaml").read_text())
    spec["artifacts"] = {"tiny": {"path": "out", "type": "model"}}
    (tiny_copy / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    dvc(tiny_copy, "repro", "-q", "-f")  # HEAD recorded its metrics a little off
    git(tiny_copy, "commit", "-qam", "register the tiny artifact")
    tether(tiny_copy, "release", "tiny", "--version", "v1.0.0", check=True)
    tether(tiny_copy, "promote", "tiny", "v1.0.0", "prod", check=True)
    env, log = _logging_git(tmp_path)

    proc = tether(tiny_copy, "verify", "tiny#prod", "--json", env=env)

    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["environment"]["recorded"] is True, report  # its manifest was found
    calls = log.read_text().splitlines()
    tag_listings = [c for c in calls if "for-each-ref" in c and "refs/tags" in c]
    shallow = [c for c in calls if "--is-shallow-repository" in c]
    assert (len(tag_listings), len(shallow)) == (1, 1), "\n".join(calls)
