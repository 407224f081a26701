"""`tether export` then `tether serve --bundle DIR --workers 2` from a directory outside any
repository: the same predictions; a tampered bundle is refused."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.helpers import tether
from tests.serve.conftest import ARTIFACT, model_object, serve_process

pytestmark = pytest.mark.slow


def test_export_then_serve_the_bundle_outside_any_repository(origin_copy: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    bundle = outside / "bundle"
    done = tether(origin_copy, "export", f"{ARTIFACT}#prod", "--to", str(bundle))
    assert done.returncode == 0, done.stderr
    assert f"exported {ARTIFACT}@v1.0.0 (in {ARTIFACT}#prod, commit " in done.stdout
    assert "install tether (from its project) and the release's packages" in done.stdout
    assert f"then `tether serve --bundle {bundle}`" in done.stdout
    assert sorted(p.name for p in bundle.iterdir()) == [
        "bundle.json", "manifest.json", "model.pkl", "requirements.txt", "schema.json",
    ]  # fmt: skip
    index = json.loads((bundle / "bundle.json").read_text())
    assert index["model"]["md5"] == model_object(origin_copy, "v1.0.0")[0]
    requirements = (bundle / "requirements.txt").read_text()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert f"scikit-learn=={manifest['packages']['scikit-learn']}" in requirements

    model = pickle.loads((bundle / "model.pkl").read_bytes())
    frame = pd.read_csv(origin_copy / "data" / "prepared" / "test.csv").drop(columns=["target"])
    frame = frame.head(25)
    body = {"dataframe_split": frame.to_dict(orient="split")}
    with serve_process(outside, "--bundle", "bundle", "--workers", "2") as (url, _, log):
        answer = httpx.post(f"{url}/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == model.predict(frame).tolist()
        assert answer.headers["X-Model-Version"] == f"{ARTIFACT}@v1.0.0"
        version = httpx.get(f"{url}/version").json()
        assert version["origin"] == f"bundle {bundle} (unverified: not signed)"
        said = log.read_text()
        assert "WARNING: the bundle is unverified" in said
        # said before the model is unpickled (a pickle runs code as it loads), too
        assert said.index("WARNING: no bundle key") < said.index("serving ")
        assert version["schema"]["source"] == "recorded"

    again = tether(origin_copy, "export", f"{ARTIFACT}#prod", "--to", str(bundle))
    assert again.returncode == 2
    assert "already exists and is not an empty directory" in again.stderr

    model_file = bundle / "model.pkl"
    model_file.write_bytes(model_file.read_bytes() + b"\n")
    refused = tether(outside, "serve", "--bundle", "bundle", "--port", "1")
    assert refused.returncode == 3
    assert (
        f"bundle file {model_file} (SHA-256 recorded in bundle.json) is corrupted" in refused.stderr
    )
    assert "Export it again with `tether export REF --to DIR`" in refused.stderr


def _rehash(bundle: Path, name: str, data: bytes) -> None:
    """Rewrite ``name`` and its sha256 in bundle.json, as a careful editor would."""
    (bundle / name).write_bytes(data)
    index = json.loads((bundle / "bundle.json").read_text())
    index["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
    (bundle / "bundle.json").write_text(json.dumps(index))


def test_export_refuses_links_keeps_modes_and_pins_hashes(origin_copy: Path, tmp_path: Path):
    target = tmp_path / "real"
    target.mkdir()
    for link, points_to in (("link", target), ("dangling", tmp_path / "nowhere")):
        (tmp_path / link).symlink_to(points_to)
        refused = tether(origin_copy, "export", f"{ARTIFACT}#prod", "--to", str(tmp_path / link))
        assert refused.returncode == 2, refused.stderr
        assert "is a symbolic link" in refused.stderr and "Traceback" not in refused.stderr
    assert list(target.iterdir()) == [] and not (tmp_path / "nowhere").exists()

    bundle = tmp_path / "bundle"
    tether(origin_copy, "export", f"{ARTIFACT}#prod", "--to", str(bundle), check=True)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o777 & ~umask
    # These releases were made without a wheelhouse: their lock hashes no archive,
    # so the bundle pins versions and says why (a hashed lock: the test below).
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert not any("--hash=" in line for line in manifest["lock"]["requirements"])
    requirements = (bundle / "requirements.txt").read_text().splitlines()
    assert "# Not every archive was hashed when the release was made: pinned by version." in (
        requirements
    )
    assert f"scikit-learn=={manifest['packages']['scikit-learn']}" in requirements

    # A manifest.json or bundle.json that is not what export writes, with every hash
    # rewritten to match, is refused by name (exit 2), never a traceback.
    deep = b"[" * 200_000 + b"]" * 200_000  # deeper than Python's recursion limit
    for name, data in (
        ("manifest.json", b"[1, 2"),
        ("manifest.json", b'"a string"'),
        ("manifest.json", deep),
    ):
        _rehash(bundle, name, data)
        refused = tether(tmp_path, "serve", "--bundle", str(bundle), "--port", "1")
        assert refused.returncode == 2, refused.stderr
        assert f"{bundle / name} is not what `tether export` writes" in refused.stderr
        assert "Traceback" not in refused.stderr
    index = json.loads((bundle / "bundle.json").read_text())
    for broken in ({**index, "model": "model.pkl"}, {**index, "files": []}, [index], deep):
        text = broken.decode() if isinstance(broken, bytes) else json.dumps(broken)
        (bundle / "bundle.json").write_text(text)
        refused = tether(tmp_path, "serve", "--bundle", str(bundle), "--port", "1")
        assert refused.returncode == 2, refused.stderr
        assert f"{bundle / 'bundle.json'} is not what `tether export` writes" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_requirements_carry_the_locks_hashes_when_it_hashed_every_archive() -> None:
    from tether.serve.bundle import requirements

    lines = [
        "numpy==2.4.6 --hash=sha256:" + "a" * 64 + " # record=sha256:" + "b" * 64,
        "scikit-learn==1.9.1 --hash=sha256:" + "c" * 64,
        "# editable: tether==0.1.0",
    ]
    manifest = {"artifact": "m", "version": "v1.0.0", "python": "3.11.7",
                "packages": {"numpy": "2.4.6"}, "lock": {"requirements": lines}}  # fmt: skip
    text = requirements(manifest).splitlines()
    assert text[2] == "# Every archive is pinned by its SHA-256 (the release's lock)."
    assert text[3:5] == lines[:2]
    assert text[5] == "# editable: tether==0.1.0  (install it from its project)"
    # One archive without a hash: pip's hash-checking mode would refuse the file.
    manifest["lock"]["requirements"] = [lines[0], "scipy==1.17.1"]
    text = requirements(manifest).splitlines()
    assert "numpy==2.4.6" in text and not any("--hash" in line for line in text)


class _Planted:
    """A pickle that runs code as it loads: it creates the file it names."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "w"))


def test_a_signed_bundle_loads_nothing_the_key_did_not_sign(origin_copy: Path, tmp_path: Path):
    """The review's doctored bundle: a model that runs code, every hash rewritten."""
    from tether.serve.bundle import open_bundle

    key_file = tmp_path / "bundle.key"
    key_file.write_text("k" * 64 + "\n")
    bundle = tmp_path / "bundle"
    done = tether(origin_copy, "export", f"{ARTIFACT}#prod", "--to", str(bundle),
                  "--key-file", str(key_file))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "signed with the key (HMAC-SHA256 of bundle.json)" in done.stdout
    served = open_bundle(bundle, key_file.read_bytes().strip())
    assert served.release.origin == f"bundle {bundle} (signature verified)"
    assert served.release.verified and not open_bundle(bundle).release.verified

    ran = tmp_path / "the-planted-code-ran"
    model = pickle.dumps(_Planted(str(ran)))
    md5 = hashlib.md5(model).hexdigest()
    index = json.loads((bundle / "bundle.json").read_text())
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["outs"][index["model"]["path"]] = md5
    manifest_bytes = json.dumps(manifest).encode()
    (bundle / "model.pkl").write_bytes(model)
    (bundle / "manifest.json").write_bytes(manifest_bytes)
    index["model"]["md5"] = md5
    index["files"]["model.pkl"]["sha256"] = hashlib.sha256(model).hexdigest()
    index["files"]["manifest.json"]["sha256"] = hashlib.sha256(manifest_bytes).hexdigest()
    (bundle / "bundle.json").write_text(json.dumps(index))

    refused = tether(tmp_path, "serve", "--bundle", str(bundle), "--key-file", str(key_file),
                     "--port", "1")  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert "does not match the key: the bundle was changed after export" in refused.stderr
    assert not ran.exists(), "nothing of the bundle was unpickled"

    del index["signature"]
    (bundle / "bundle.json").write_text(json.dumps(index))
    unsigned = tether(tmp_path, "serve", "--bundle", str(bundle), "--key-file", str(key_file),
                      "--port", "1")  # fmt: skip
    assert unsigned.returncode == 1 and "is not signed, and a key was given" in unsigned.stderr
    short = tmp_path / "short.key"
    short.write_text("abc")
    weak = tether(tmp_path, "serve", "--bundle", str(bundle), "--key-file", str(short))
    assert weak.returncode == 2 and "has 3 bytes; it needs 32 at least" in weak.stderr
    assert not ran.exists()
