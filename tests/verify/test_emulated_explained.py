"""Where bits differ on another CPU, verify says why: a release built with the
``native`` profile differs on an emulated Nehalem and the cause is its numerics
(kernel names shown); a release whose profile the CPU cannot run is proved
equivalent, not bit-exact (exit 5), unless its model's predictions differ beyond
the release's tolerance (exit 1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import commit_all, require_executable, tether
from tests.verify.conftest import ARTIFACT

pytestmark = pytest.mark.slow

MONITOR = """\
[tool.tether.monitor]
reference = "data/prepared/train.csv"
prediction_reference = "data/prepared/test.csv"
target_param = "dataset.target"
"""

# Under an emulated CPU without AVX2 the model's coefficients are scaled: a model
# that would still be called equivalent if the comparison were not real.
PERTURBED = """\
    pipeline.fit(train.drop(columns=[target]), train[target])
    from numpy._core._multiarray_umath import __cpu_features__

    if not __cpu_features__.get("AVX2"):
        pipeline.named_steps["estimator"].coef_ = pipeline.named_steps["estimator"].coef_ * 3
    return pipeline
"""


def _release(repo: Path, version: str, *run: str) -> str:
    tether(repo, "run", *run, check=True)
    commit_all(repo, f"release {version}")
    tether(repo, "release", ARTIFACT, "--version", version, check=True)
    return f"{ARTIFACT}@{version}"


def _verify(repo: Path, ref: str, cpu: str) -> tuple[int, dict, str]:
    proc = tether(repo, "verify", ref, "--cpu", cpu, "--json")
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def test_a_native_build_differs_on_another_cpu_and_its_numerics_are_named(
    template_repo: Path,
) -> None:
    require_executable("qemu-x86_64", "qemu-user")
    ref = _release(template_repo, "v7.0.0", "numerics=native")
    code, report, stderr = _verify(template_repo, ref, "Nehalem")
    assert code == 1
    assert {o["path"] for o in report["outputs"] if o["status"] == "differs"} == {
        "models/model.pkl"
    }
    causes = [c["detail"] for c in report["causes"]]
    assert {c["layer"] for c in report["causes"]} == {"numerics"}
    kernel = re.compile(r"^(numpy|scipy)'s openblas kernel (\w+) then, Nehalem now$")
    named = [m for m in map(kernel.match, causes) if m]
    assert {m.group(1) for m in named} == {"numpy", "scipy"}
    assert all(m.group(2) != "Nehalem" for m in named), causes
    assert report["equivalence"] is None, "the profile could run: no second tier"
    assert "error: 1 of 9 outputs of cancer-classifier@v7.0.0 were not reproduced" in stderr


def test_a_cpu_that_cannot_run_the_profile_gets_equivalence_not_bit_exactness(
    template_repo: Path,
) -> None:
    require_executable("qemu-x86_64", "qemu-user")
    (template_repo / "pyproject.toml").write_text(MONITOR)
    ref = _release(template_repo, "v8.0.0", "numerics=x86-64-v3")

    code, report, stderr = _verify(template_repo, ref, "Nehalem")
    assert code == 5, stderr
    assert report["ok"] is False and report["equivalent"] is True
    reason = "the emulated Nehalem cannot run profile x86-64-v3 (it lacks AVX, F16C, FMA3, AVX2)"
    assert report["equivalence"]["reason"] == reason
    checks = report["equivalence"]["checks"]
    assert checks[0] == "5 metrics within 1e-06 of the recorded"
    assert checks[1].startswith("predictions on 114 rows of data/prepared/test.csv within 1e-06")
    assert stderr.endswith(
        f"error: {ref} is equivalent, not bit-exact: {reason}\n"
        "Bit-exact needs a CPU that runs the release's numerics profile (x86-64-v3); "
        f"`tether verify {ref}` there.\n"
    )

    train = template_repo / "src" / "tabular_classifier" / "train.py"
    text = train.read_text()
    fitted = "    pipeline.fit(train.drop(columns=[target]), train[target])\n    return pipeline\n"
    assert fitted in text
    train.write_text(text.replace(fitted, PERTURBED))
    perturbed = _release(template_repo, "v9.0.0")
    code, report, stderr = _verify(template_repo, perturbed, "Nehalem")
    assert code == 1 and report["equivalent"] is False
    failures = report["equivalence"]["failures"]
    assert any(
        f.startswith("the rebuilt model's predictions on data/prepared/test.csv differ")
        for f in failures
    ), failures
    assert "nor equivalent (" in stderr
