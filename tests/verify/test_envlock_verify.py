"""verify names the layer from the commit's uv.lock: a commit (no release, so no
manifest to compare with) rebuilt in a second venv with another scikit-learn is put
down to the packages; a kernel other than the release's is named as the platform."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.helpers import commit_all
from tests.replay.conftest import SKLEARN_A, SKLEARN_B, tether_in, venv_b  # noqa: F401
from tether.environment import EnvironmentDifference
from tether.verify.api import VerifyResult
from tether.verify.explain import _environment_causes


@pytest.mark.slow
def test_a_commits_uv_lock_names_the_packages_layer(
    template_repo: Path,
    venv_b: Path,  # noqa: F811
) -> None:
    (template_repo / "uv.lock").write_bytes((PROJECT / "uv.lock").read_bytes())
    commit_all(template_repo, "lock the environment")

    proc = tether_in(venv_b, template_repo, "verify", "HEAD")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "models/model.pkl differs" in proc.stdout
    cause = f"the commit's uv.lock: package scikit-learn: locked {SKLEARN_A}, installed {SKLEARN_B}"
    assert f"why the bytes differ:\n  packages: {cause}" in proc.stdout

    report = json.loads(tether_in(venv_b, template_repo, "verify", "HEAD", "--json").stdout)
    assert {"layer": "packages", "detail": cause} in report["causes"]
    assert report["environment"]["uv_lock"] == [
        {
            "layer": "packages",
            "subject": "scikit-learn",
            "message": f"package scikit-learn: locked {SKLEARN_A}, installed {SKLEARN_B}",
        }
    ]


def test_a_changed_kernel_is_named_as_the_platform() -> None:
    then = "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36"
    now = "Linux-6.12.9-amd64-x86_64-with-glibc2.36"
    result = VerifyResult(
        rev="v1",
        commit="0" * 40,
        source="local cache",
        environment=[EnvironmentDifference("platform", then, now)],
    )
    assert [(c.layer, c.detail) for c in _environment_causes(result)] == [
        ("platform", f"platform {then} then, {now} now")
    ]
