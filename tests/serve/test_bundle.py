"""`tether export` then `tether serve --bundle DIR --workers 2` from a directory outside any
repository: the same predictions; a tampered bundle is refused."""

from __future__ import annotations

import json
import pickle
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
    with serve_process(outside, "--bundle", "bundle", "--workers", "2") as (url, _, _log):
        answer = httpx.post(f"{url}/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == model.predict(frame).tolist()
        assert answer.headers["X-Model-Version"] == f"{ARTIFACT}@v1.0.0"
        version = httpx.get(f"{url}/version").json()
        assert version["origin"] == f"bundle {bundle}"
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
