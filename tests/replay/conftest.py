"""Fixtures for the replay tests: a release made under the project's environment
(scikit-learn A), a second virtual environment with scikit-learn B, and the local
wheelhouse that `make setup` downloads (the only package index the tests use).

A = the scikit-learn in the project's .venv; B = SKLEARN_B below (the Makefile
downloads the same version). The project's own .venv is never changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import PROJECT, isolated_environ
from tests.helpers import copy_repo, git, run, tether

# The pair: every version pickles its own version string into the model, so the
# trained model's bytes differ (the scenario checks that they do).
SKLEARN_A = metadata.version("scikit-learn")
SKLEARN_B = "1.9.0"
ARTIFACT = "cancer-classifier"
WHEELHOUSE = PROJECT / ".wheelhouse"
# uv's cache beside the wheelhouse (gitignored, kept between sessions): a warm
# cache is what makes a replay fast, and it is what users have after one replay.
UV_CACHE = WHEELHOUSE / ".uv-cache"


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def offline_env() -> dict[str, str]:
    """uv (and tether's lock recording) use only the wheelhouse: no network."""
    return {
        "UV_FIND_LINKS": str(WHEELHOUSE),
        "UV_NO_INDEX": "1",
        "UV_CACHE_DIR": str(UV_CACHE),
        "UV_PYTHON_DOWNLOADS": "never",
    }


@pytest.fixture(autouse=True)
def offline(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (WHEELHOUSE / ".complete").is_file():
        pytest.fail(f"{WHEELHOUSE} is missing: run `make setup` (it downloads the wheelhouse)")
    for key, value in offline_env().items():
        monkeypatch.setenv(key, value)


@dataclass(frozen=True)
class Release:
    repo: Path  # the project the release was made in (copy it to change it)
    ref: str  # NAME@vX.Y.Z
    tag_message: str


@pytest.fixture(scope="session")
def release_a(
    reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory, session_home: Path
) -> Release:
    """v0.1.0 released under the project's environment (scikit-learn A); its lock
    hashes every archive from the wheelhouse."""
    with isolated_environ(session_home, offline_env()):
        repo = copy_repo(reproduced_template, tmp_path_factory.mktemp("replay") / "project")
        tether(repo, "release", ARTIFACT, check=True)
        ref = f"{ARTIFACT}@v0.1.0"
        message = git(repo, "tag", "-l", "--format=%(contents)", ref)
        return Release(repo, ref, message)


@pytest.fixture
def release_copy(release_a: Release, tmp_path: Path) -> Path:
    return copy_repo(release_a.repo, tmp_path / "project")


def _base_python() -> str:
    return getattr(sys, "_base_executable", sys.executable)


@pytest.fixture(scope="session")
def venv_b(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    """A second virtual environment: the project's distributions at their versions
    (from the wheelhouse), scikit-learn B instead of A, and the project installed
    from this checkout. Returns its bin directory."""
    from tether.replay import lock

    with isolated_environ(session_home, offline_env()):
        target = tmp_path_factory.mktemp("venv-b") / "venv"
        env = {**os.environ, **offline_env()}
        uv = _uv()
        run(uv, "venv", "-q", "--python", _base_python(), str(target), cwd=target.parent, env=env)
        pins = [
            f"{p.name}=={SKLEARN_B if p.name == 'scikit-learn' else p.version}"
            for p in lock.record(hashes=False).installable
        ]
        requirements = target.parent / "requirements-b.txt"
        requirements.write_text("\n".join(pins) + "\n", encoding="utf-8")
        python = str(target / "bin" / "python")
        common = ["--python", python, "--no-deps", "--no-index", "--find-links", str(WHEELHOUSE)]
        run(
            uv, "pip", "install", "-q", *common, "-r", str(requirements), cwd=target.parent, env=env
        )
        run(uv, "pip", "install", "-q", *common, "-e", str(PROJECT), cwd=target.parent, env=env)
        probe = subprocess.run(
            [python, "-c", "import sklearn; print(sklearn.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert probe.stdout.strip() == SKLEARN_B
        return target / "bin"


def tether_in(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tether`` of the environment at ``bin_dir``, with that environment first on PATH."""
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return run(bin_dir / "tether", *args, cwd=cwd, check=False, env=env)


def env_cache(home: Path) -> Path:
    """Where tether keeps replayed environments under the test's HOME."""
    return home / ".cache" / "tether" / "envs"


def cache_entries(home: Path) -> list[str]:
    root = env_cache(home)
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def manifest_of(message: str) -> dict:
    return json.loads(message.split("\ntether-manifest:\n", 1)[1])


def tag_with_manifest(repo: Path, name: str, message: str, manifest: dict) -> None:
    """An annotated tag at HEAD whose message carries ``manifest``."""
    human = message.split("\n", 1)[0]
    body = f"{human}\n\ntether-manifest:\n{json.dumps(manifest, indent=2)}\n"
    run("git", "tag", "-a", "-F", "-", name, "HEAD", cwd=repo, input=body)
