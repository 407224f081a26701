"""The issue's functional test: release the example, then feed it four batches."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import dvc, git, tether
from tests.monitor.conftest import Example, split_of

pytestmark = pytest.mark.slow

F1_GATE = "f1<-0.05"


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _shifted(example: Example, columns: list[str]) -> pd.DataFrame:
    """The test split with ``columns`` moved by three training standard deviations."""
    frame = split_of(example, "test")
    train = split_of(example, "train")
    for name in columns:
        frame[name] = frame[name] + 3 * train[name].std(ddof=0)
    return frame


def _drift(example: Example, ref: str, batch: Path, *extra: str):
    proc = tether(example.root, "monitor", "drift", ref, str(batch), "--json", *extra)
    return proc, json.loads(proc.stdout) if proc.stdout.strip() else None


def test_release_records_a_profile_in_its_manifest(example: Example) -> None:
    new = json.loads(tether(example.root, "manifest", example.new, "--json", check=True).stdout)
    old = json.loads(tether(example.root, "manifest", example.old, "--json", check=True).stdout)
    profile = new.get("profile") or new.get("manifest", {}).get("profile")
    assert profile and len(profile) == 32
    assert not (old.get("profile") or old.get("manifest", {}).get("profile"))
    # The profile is a DVC object in the local cache and in the remote.
    assert (example.root / ".dvc/cache/files/md5" / profile[:2] / profile[2:]).is_file()
    assert (example.root / ".dvc/storage/files/md5" / profile[:2] / profile[2:]).is_file()


def test_batch_from_the_test_split_has_no_drift_and_passes_the_gates(
    example: Example, tmp_path: Path
) -> None:
    batch = _write(split_of(example, "test"), tmp_path / "test.csv")
    proc, report = _drift(example, example.new, batch, "--fail-on-drift")
    assert proc.returncode == 0, proc.stderr
    assert report["dataset_drift"] is False
    assert report["reference"] == "stored"
    assert report["tested_columns"] == 32  # 30 features, the target, the predictions
    assert report["share"] < 0.5
    tests = {c["test"] for c in report["columns"]}
    assert tests == {"ks", "z"}  # 455 training rows: KS for numbers, Z for the 0/1 target

    perf = tether(example.root, "monitor", "perf", example.new, str(batch), "--fail-on", F1_GATE)
    assert perf.returncode == 0, perf.stderr
    assert f"ok f1 unchanged: 0.986111 -> 0.986111, gate `{F1_GATE}`" in perf.stdout
    assert "gates pass: 1 gate(s) on 114 rows" in perf.stdout


def test_two_shifted_columns_drift_and_the_dataset_does_not(
    example: Example, tmp_path: Path
) -> None:
    batch = _write(_shifted(example, ["mean radius", "worst texture"]), tmp_path / "two.csv")
    proc, report = _drift(example, example.new, batch, "--fail-on-drift")
    assert proc.returncode == 0, proc.stderr
    drifted = {c["column"] for c in report["columns"] if c["drifted"]}
    assert {"mean radius", "worst texture"} <= drifted
    assert report["dataset_drift"] is False
    text = tether(example.root, "monitor", "drift", example.new, str(batch)).stdout
    assert "no dataset drift" in text and "mean radius" in text and "worst texture" in text


def test_more_than_half_the_columns_shifted_is_dataset_drift(
    example: Example, tmp_path: Path
) -> None:
    columns = list(split_of(example, "train").columns[:17])
    assert "target" not in columns
    batch = _write(_shifted(example, columns), tmp_path / "many.csv")
    proc = tether(example.root, "monitor", "drift", example.new, str(batch), "--fail-on-drift")
    assert proc.returncode == 1, proc.stderr
    assert "DATASET DRIFT" in proc.stdout
    assert "error: DATASET DRIFT" in proc.stderr
    # Without --fail-on-drift the same verdict, exit 0.
    proc, report = _drift(example, example.new, batch)
    assert proc.returncode == 0 and report["dataset_drift"] is True
    assert set(columns) <= {c["column"] for c in report["columns"] if c["drifted"]}


def test_labels_flipped_on_a_third_of_the_rows_breach_the_f1_gate(
    example: Example, tmp_path: Path
) -> None:
    frame = split_of(example, "test")
    third = frame.index[: len(frame) // 3]
    frame.loc[third, "target"] = 1 - frame.loc[third, "target"]
    batch = _write(frame, tmp_path / "flipped.csv")
    proc = tether(example.root, "monitor", "perf", example.new, str(batch), "--fail-on", F1_GATE)
    assert proc.returncode == 1, proc.stderr
    assert "FAIL f1 worsened by" in proc.stdout
    assert "1 of 1 gate(s) breached" in proc.stderr
    assert "retrain on newer data with `tether run`" in proc.stderr
    # The gates of `tether diff` come from [tool.tether] fail_on too.
    data = json.loads(
        tether(
            example.root, "monitor", "perf", example.new, str(batch), "--json", "--fail-on", F1_GATE
        ).stdout
    )
    f1 = next(m for m in data["metrics"] if m["metric"] == "f1")
    assert f1["recorded"] == pytest.approx(0.9861111111111112)
    assert f1["value"] < 0.8


def test_a_release_made_before_profiles_is_profiled_from_its_training_data(
    example: Example, tmp_path: Path
) -> None:
    batch = _write(_shifted(example, ["mean radius"]), tmp_path / "one.csv")
    _, old = _drift(example, example.old, batch)
    _, new = _drift(example, example.new, batch)
    assert old["reference"] == "rebuilt"
    # The stored profile keeps every value of a 455-row column: the same scores.
    assert [(c["column"], c["score"]) for c in old["columns"]] == [
        (c["column"], c["score"]) for c in new["columns"]
    ]


def test_a_fresh_clone_reads_the_profile_and_model_from_the_remote(
    example: Example, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(example.root), str(clone))
    dvc(clone, "remote", "modify", "--local", "local", "url", str(example.root / ".dvc/storage"))
    batch = _write(split_of(example, "test"), tmp_path / "test.csv")
    proc = tether(
        clone, "monitor", "drift", f"{example.new.split('@')[0]}@latest", str(batch), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["reference"] == "stored"


def test_chunks_show_a_trend(example: Example, tmp_path: Path) -> None:
    frame = split_of(example, "test")
    frame["week"] = ["w1"] * 38 + ["w2"] * 38 + ["w3"] * 38
    late = frame["week"] == "w3"
    frame.loc[late, "target"] = 1 - frame.loc[late, "target"]
    batch = _write(frame, tmp_path / "weeks.csv")
    html = tmp_path / "perf.html"
    proc = tether(
        example.root, "monitor", "perf", example.new, str(batch), "--by", "week",
        "--fail-on", F1_GATE, "--json", "--html", str(html),
    )  # fmt: skip
    assert proc.returncode == 1  # the whole batch breaches too
    chunks = json.loads(proc.stdout)["chunks"]
    assert [c["chunk"] for c in chunks] == ["w1", "w2", "w3"]
    assert chunks[0]["breached"] == [] and chunks[2]["breached"] == [F1_GATE]
    assert chunks[2]["metrics"]["f1"] < chunks[0]["metrics"]["f1"]
    page = html.read_text(encoding="utf-8")
    assert "Per chunk (week)" in page and "<polyline" in page


def test_exact_tests_the_training_rows_fetched_by_md5(example: Example, tmp_path: Path) -> None:
    batch = _write(_shifted(example, ["mean radius"]), tmp_path / "one.csv")
    _, exact = _drift(example, example.new, batch, "--exact")
    _, stored = _drift(example, example.new, batch)
    assert exact["reference"] == "raw" and stored["reference"] == "stored"
    assert [c["score"] for c in exact["columns"]] == [c["score"] for c in stored["columns"]]


def test_a_corrupted_model_is_never_unpickled(example_copy: Path, tmp_path: Path) -> None:
    manifest = json.loads(
        tether(example_copy, "manifest", "cancer-classifier@v1.0.0", "--json", check=True).stdout
    )
    outs = manifest.get("outs") or manifest["manifest"]["outs"]
    md5 = outs["models/model.pkl"]
    cached = example_copy / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    cached.chmod(0o644)
    # A pickle that would run code when loaded: it must never be.
    marker = tmp_path / "pwned"
    cached.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    batch = _write(split_of_copy(example_copy), tmp_path / "test.csv")
    proc = tether(example_copy, "monitor", "perf", "cancer-classifier@v1.0.0", str(batch))
    assert proc.returncode == 3, proc.stderr
    assert "is corrupted: its bytes hash to" in proc.stderr and md5 in proc.stderr
    assert not marker.exists()


def split_of_copy(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "data/prepared/test.csv")


def test_a_profile_lost_to_dvc_gc_is_rebuilt_from_the_pinned_training_data(
    example: Example, example_copy: Path, tmp_path: Path
) -> None:
    """`dvc gc --cloud` keeps only what dvc.lock and .dvc files name, and none names a
    profile: monitoring rebuilds it from the training data the manifest pins, and
    the bytes hash to the md5 recorded at release."""
    manifest = json.loads(
        tether(example_copy, "manifest", example.new, "--json", check=True).stdout
    )
    profile = manifest.get("profile") or manifest["manifest"]["profile"]
    for store in (".dvc/cache/files/md5", ".dvc/storage/files/md5"):
        (example_copy / store / profile[:2] / profile[2:]).unlink()
    batch = _write(split_of_copy(example_copy), tmp_path / "test.csv")
    proc = tether(example_copy, "monitor", "drift", example.new, str(batch), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["reference"] == "stored"  # rebuilt, and the same bytes as recorded
    _, before = _drift(example, example.new, batch)
    assert [(c["column"], c["score"]) for c in report["columns"]] == [
        (c["column"], c["score"]) for c in before["columns"]
    ]


def _corrupt_profile(root: Path, ref: str) -> tuple[str, list[Path]]:
    """Overwrite the release's stored profile in the cache and the local remote."""
    manifest = json.loads(tether(root, "manifest", ref, "--json", check=True).stdout)
    profile = manifest.get("profile") or manifest["manifest"]["profile"]
    copies = [
        root / store / profile[:2] / profile[2:]
        for store in (".dvc/cache/files/md5", ".dvc/storage/files/md5")
    ]
    for copy in copies:
        copy.chmod(0o644)
        copy.write_bytes(b"not the profile")
    return profile, copies


def test_a_corrupted_profile_is_named_rebuilt_and_repaired_in_cache_and_remote(
    example: Example, example_copy: Path, tmp_path: Path
) -> None:
    profile, copies = _corrupt_profile(example_copy, example.new)
    batch = _write(split_of_copy(example_copy), tmp_path / "test.csv")
    proc = tether(example_copy, "monitor", "drift", example.new, str(batch), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["reference"] == "stored"
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1, proc.stderr
    assert f"the DVC cache object {profile}" in warning[0]
    assert "is corrupted" in warning[0] and "repaired" in warning[0]
    assert "DVC remote" in warning[0]
    for copy in copies:
        assert hashlib.md5(copy.read_bytes()).hexdigest() == profile, copy
    # repaired: the next run reads the stored profile without a word
    again = tether(example_copy, "monitor", "drift", example.new, str(batch), "--json")
    assert again.returncode == 0 and "warning:" not in again.stderr, again.stderr


def test_a_corrupted_profile_without_training_data_to_rebuild_from_is_refused(
    example: Example, example_copy: Path, tmp_path: Path
) -> None:
    pyproject = example_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.tether.monitor]", "[tool.unused]"))
    profile, copies = _corrupt_profile(example_copy, example.new)
    batch = _write(split_of_copy(example_copy), tmp_path / "test.csv")
    proc = tether(example_copy, "monitor", "drift", example.new, str(batch))
    assert proc.returncode == 3, proc.stderr
    assert f"error: the DVC cache object {profile}" in proc.stderr
    assert "is corrupted" in proc.stderr
    assert all(copy.read_bytes() == b"not the profile" for copy in copies)


def test_a_model_that_fits_its_training_rows_closely_raises_no_false_alarm(
    example: Example, example_copy: Path, tmp_path: Path
) -> None:
    """A random forest is near-certain on the rows it was trained on: profiled there,
    its predictions on any new batch look drifted. Profiled on the held-out split
    (prediction_reference), the model's own test split shows no drift."""
    root = example_copy
    tether(root, "run", "model=random_forest", check=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "random forest")
    name = example.new.split("@")[0]
    tether(root, "release", name, "--version", "v2.0.0", check=True)
    batch = _write(split_of_copy(root), tmp_path / "test.csv")
    proc = tether(root, "monitor", "drift", f"{name}@v2.0.0", str(batch), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    prediction = next(c for c in report["columns"] if c["role"] == "prediction")
    assert prediction["drifted"] is False, prediction
    manifest = json.loads(tether(root, "manifest", f"{name}@v2.0.0", "--json").stdout)
    assert manifest["profile"]
