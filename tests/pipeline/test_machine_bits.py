"""The committed bytes come back on this machine however the pipeline is run, and
bytes that differ only because of the machine are never advised for commit."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from tests.helpers import BIN, commit_all, git, run, tether

pytestmark = pytest.mark.slow


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _locked_md5(repo: Path, path: str) -> str:
    lines = (repo / "dvc.lock").read_text().splitlines()
    index = lines.index(f"    - path: {path}")
    return next(line.split(": ")[1] for line in lines[index:] if "md5:" in line)


def _plain_env(**extra: str) -> dict[str, str]:
    """A laptop's shell: the project's venv first on PATH, nothing tether sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TETHER_", "OPENBLAS_"))}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return {**env, **extra}


def test_a_plain_dvc_repro_gives_the_committed_bytes(template_repo: Path) -> None:
    (template_repo / "models" / "model.pkl").unlink()
    run(BIN / "dvc", "repro", "-q", "--force", "train", cwd=template_repo, env=_plain_env())
    assert _md5(template_repo / "models" / "model.pkl") == _locked_md5(
        template_repo, "models/model.pkl"
    )
    assert git(template_repo, "status", "--porcelain", "dvc.lock") == ""


def test_check_names_the_machine_and_never_advises_committing_its_bits(
    template_repo: Path,
) -> None:
    tether(template_repo, "run", "numerics=native", check=True)
    commit_all(template_repo, "native numerics")
    committed = _locked_md5(template_repo, "models/model.pkl")
    # Another machine: with nothing pinned, another BLAS kernel family.
    other = "Prescott"
    run(
        BIN / "dvc", "repro", "-q", "--force", "train", cwd=template_repo,
        env=_plain_env(OPENBLAS_CORETYPE=other),
    )  # fmt: skip
    run(BIN / "dvc", "repro", "-q", cwd=template_repo, env=_plain_env())
    rebuilt = _md5(template_repo / "models" / "model.pkl")
    assert rebuilt != committed, "the kernel family changes the model's bytes"

    proc = tether(
        template_repo, "check", env=_plain_env(OPENBLAS_CORETYPE=other, OPENBLAS_NUM_THREADS="1")
    )
    assert proc.returncode == 1
    # The kernel is OpenBLAS's own name for what it picked (it can differ from the
    # OPENBLAS_CORETYPE asked for), so its shape is asserted, the same for both.
    lines = proc.stdout.splitlines()
    here = re.search(
        r"\(here: numpy's openblas kernel (\w+), 1 thread\(s\); "
        r"scipy's openblas kernel (\w+), 1 thread\(s\)\)",
        lines[1],
    )
    assert here, lines[1]
    assert here[1] == here[2]
    assert lines == [
        "not reproducible: 1 problem(s)",
        f"  - models/model.pkl of stage 'train' was rebuilt from the commit's own code, "
        f"data and params, and has other bytes here ({rebuilt}; the commit has {committed}): "
        "the numerics profile is native: BLAS kernels, threads and SIMD follow the CPU "
        f"{here[0]}, so bits differ between machines (choose x86-64-v2 in "
        "conf/config.yaml)",
        "    fix: do not commit it: `git checkout -- dvc.lock && dvc checkout --force` puts "
        "back the commit's outputs; `tether verify HEAD` names the layer that differs",
    ]
    assert "git add dvc.lock" not in proc.stdout
