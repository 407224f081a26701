"""`tether check` compares the running environment with the commit's uv.lock: a
second venv's scikit-learn is named with its fix, and bits it rebuilt are put down to
the packages, never advised for commit. The renderer and the cause on hand-made
differences (Python, platform)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.helpers import commit_all, git, run, tether
from tests.replay.conftest import SKLEARN_A, SKLEARN_B, tether_in, venv_b  # noqa: F401
from tether import envlock
from tether.pipeline.check import Problem, ProblemKind, _machine_cause
from tether.pipeline.render import problem_lines

FIX = "uv sync --frozen (or `make setup`): installs exactly the commit's uv.lock"


@pytest.fixture
def locked_template(template_repo: Path) -> Path:
    """The reproduced template with the project's own uv.lock committed."""
    (template_repo / "uv.lock").write_bytes((PROJECT / "uv.lock").read_bytes())
    commit_all(template_repo, "lock the environment")
    return template_repo


def _b_env(venv_b: Path) -> dict[str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TETHER_", "OPENBLAS_"))}
    return {**env, "PATH": os.pathsep.join([str(venv_b), env.get("PATH", "")])}


def test_the_projects_environment_is_the_commits_lock(locked_template: Path) -> None:
    proc = tether(locked_template, "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("reproducible: the workspace matches commit")


@pytest.mark.slow
def test_check_names_the_changed_package_and_the_fix(
    locked_template: Path,
    venv_b: Path,  # noqa: F811
) -> None:
    proc = tether_in(venv_b, locked_template, "check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "not reproducible: 1 problem(s)",
        "  - the running environment differs from the commit's uv.lock (1 difference(s)):",
        f"      package scikit-learn: locked {SKLEARN_A}, installed {SKLEARN_B}",
        f"    fix: {FIX}",
    ]
    assert "error: the workspace does not reproduce exactly from Git" in proc.stderr

    data = json.loads(tether_in(venv_b, locked_template, "check", "--json").stdout)
    assert data["problems"] == [
        {
            "kind": "environment",
            "subject": "scikit-learn",
            "message": f"environment: package scikit-learn: locked {SKLEARN_A}, "
            f"installed {SKLEARN_B}",
            "fix": FIX,
        }
    ]


@pytest.mark.slow
def test_bits_rebuilt_with_another_package_are_put_down_to_the_packages(
    locked_template: Path,
    venv_b: Path,  # noqa: F811
) -> None:
    env = _b_env(venv_b)
    run(venv_b / "dvc", "repro", "-q", "--force", "train", cwd=locked_template, env=env)
    run(venv_b / "dvc", "repro", "-q", cwd=locked_template, env=env)
    assert git(locked_template, "status", "--porcelain", "dvc.lock") != "", "other bytes"

    proc = tether_in(venv_b, locked_template, "check")
    assert proc.returncode == 1
    cause = (
        "this environment's packages differ from the commit's uv.lock "
        f"(package scikit-learn: locked {SKLEARN_A}, installed {SKLEARN_B})"
    )
    machine = [line for line in proc.stdout.splitlines() if "models/model.pkl of stage" in line]
    assert len(machine) == 1 and machine[0].endswith(cause), proc.stdout
    assert "git add dvc.lock" not in proc.stdout
    assert "do not commit it" in proc.stdout
    assert f"    fix: {FIX}" in proc.stdout


def test_the_cause_names_python_and_platform_before_the_numerics(tmp_path: Path) -> None:
    found = [
        envlock.Difference("python", "python", "Python 3.12.1 runs; the commit's "
                           ".python-version names 3.11"),
        envlock.Difference("platform", "numpy", "platform: no wheel of numpy 2.4.6 in the "
                           "lock runs on cp311-cp311-linux_riscv64 (40 wheel(s) locked; it "
                           "would be built from its sdist here)"),
    ]  # fmt: skip
    assert _machine_cause(tmp_path, found) == (
        "this environment's python, platform differ from the commit's uv.lock (Python 3.12.1 "
        "runs; the commit's .python-version names 3.11; platform: no wheel of numpy 2.4.6 in "
        "the lock runs on cp311-cp311-linux_riscv64 (40 wheel(s) locked; it would be built "
        "from its sdist here))"
    )


def test_environment_problems_are_one_problem_with_each_fix_once() -> None:
    found = [
        envlock.Difference("python", "python", "Python 3.10.13 is outside the lock's "
                           "requires-python >=3.11 (uv.lock at 1a2b3c4d)"),
        envlock.Difference("packages", "scipy", "package scipy: locked 1.17.1, not installed"),
        envlock.Difference("packages", "numpy", "package numpy: locked 2.4.6, installed 2.4.5"),
    ]  # fmt: skip
    problems = [
        Problem(ProblemKind.ENVIRONMENT, d.subject, f"environment: {d.message}", d.fix)
        for d in found
    ]
    problems.append(
        Problem(ProblemKind.PARAMS, "params.yaml", "params.yaml is missing", "tether run")
    )
    assert problem_lines(problems) == [
        "not reproducible: 2 problem(s)",
        "  - params.yaml is missing",
        "    fix: tether run",
        "  - the running environment differs from the commit's uv.lock (3 difference(s)):",
        "      Python 3.10.13 is outside the lock's requires-python >=3.11 (uv.lock at 1a2b3c4d)",
        "      package scipy: locked 1.17.1, not installed",
        "      package numpy: locked 2.4.6, installed 2.4.5",
        f"    fix: {envlock.FIXES['python']}",
        f"    fix: {FIX}",
    ]
