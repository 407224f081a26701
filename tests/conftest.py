"""Shared fixtures: isolation from the developer's own git/DVC config, helpers to
build real git + DVC repos, and one reproduced copy of the template per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import BIN, commit_all, copy_repo, git, run

PROJECT = Path(__file__).resolve().parents[1]
# The framework's tests run on their own copy of the stock example project, so they
# pass whatever a user did to the example they adopted (README: "Adopting the
# template"); test_fixture_template.py keeps the copy equal to the stock example.
# Stored under other names (`dot-dvc/`, `dvc.yaml.fixture`...), so that neither DVC
# nor tether takes the copy for a pipeline or a DVC repository of the project.
FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template"
_FIXTURE_SUFFIX = ".fixture"


def fixture_name(rel: str) -> str:
    """Where the fixture stores the template file ``rel``."""
    parts = []
    for part in rel.split("/"):
        if part in ("dvc.yaml", "dvc.lock"):
            part += _FIXTURE_SUFFIX
        elif part.startswith("."):
            part = "dot-" + part[1:]
        parts.append(part)
    return "/".join(parts)


def template_name(stored: str) -> str:
    """The template file the fixture stores as ``stored`` (fixture_name reversed)."""
    parts = []
    for part in stored.split("/"):
        if part.startswith("dot-"):
            part = "." + part[4:]
        parts.append(part.removesuffix(_FIXTURE_SUFFIX))
    return "/".join(parts)


EXAMPLE_ARTIFACT = "cancer-classifier"
EXAMPLE_DATASET = "breast_cancer"

# The files that make up the template project a user copies.
TEMPLATE_PATHS = [
    ".dvc/config",
    ".dvc/.gitignore",
    ".dvcignore",
    ".gitignore",
    ".tether",
    "conf",
    "src/tabular_classifier",
    "dvc.yaml",
    "dvc.lock",
    "params.yaml",
    "reports",
]


def example_replaced(project: Path = PROJECT) -> str | None:
    """Why the example project in this checkout is no longer the stock one (a user
    adopted the template for their own data), or None while it is."""
    config = project / "conf" / "config.yaml"
    pipeline = project / "dvc.yaml"
    if not (project / "src" / "tabular_classifier").is_dir():
        return "src/tabular_classifier is gone"
    if not config.is_file() or f"dataset: {EXAMPLE_DATASET}" not in config.read_text("utf-8"):
        return f"conf/config.yaml no longer uses the {EXAMPLE_DATASET} dataset"
    if not pipeline.is_file() or f"  {EXAMPLE_ARTIFACT}:" not in pipeline.read_text("utf-8"):
        return f"dvc.yaml no longer declares the {EXAMPLE_ARTIFACT} artifact"
    return None


def skip_if_example_replaced() -> None:
    """Skip the example project's own tests when the example was replaced."""
    why = example_replaced()
    if why is not None:
        pytest.skip(
            f"the example project was replaced ({why}): its own tests are skipped; "
            "tether's tests still run, on tests/fixtures/template",
            allow_module_level=True,
        )


def _isolated_env(home: Path) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / ".cache" / "dvc-site"),
        "GIT_TERMINAL_PROMPT": "0",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "TETHER_TRACEBACK"):
        env[var] = ""
    return env


def _write_gitconfig(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Tether Tests\n\temail = tests@tether.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
        "[advice]\n\tdetachedHead = false\n",
        encoding="utf-8",
    )


@contextmanager
def isolated_environ(home: Path, extra: dict[str, str] | None = None) -> Iterator[None]:
    """os.environ isolated like a test's (``home`` as HOME), for session fixtures that
    run before any test's ``isolated_home``; restored afterwards."""
    saved = dict(os.environ)
    _apply_env({**_isolated_env(home), **(extra or {})})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _apply_env(env: dict[str, str]) -> None:
    for key, value in env.items():
        if value == "":
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    _write_gitconfig(home)
    return home


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs with a temporary HOME and its own .gitconfig."""
    home = tmp_path / "_home"
    _write_gitconfig(home)
    for key, value in _isolated_env(home).items():
        if value == "":
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    return home


@pytest.fixture(scope="session")
def reproduced_template(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    """The template project, committed and reproduced once per test session.

    Tests must not change it: take ``template_repo`` for a private copy.
    """
    with isolated_environ(session_home):
        root = tmp_path_factory.mktemp("template") / "project"
        root.mkdir()
        for src in sorted(FIXTURE_TEMPLATE.rglob("*")):
            if not src.is_file() or "__pycache__" in src.parts:
                continue
            target = root / template_name(src.relative_to(FIXTURE_TEMPLATE).as_posix())
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        git(root, "init", "-q")
        commit_all(root, "template")
        # Storage is local to each copy (.dvc/storage); tests that share a remote
        # between clones point `local` elsewhere with `dvc remote modify --local`.
        run(BIN / "tether", "run", cwd=root)
        commit_all(root, "reproduce")
        return root


@pytest.fixture
def template_repo(reproduced_template: Path, tmp_path: Path) -> Path:
    """A private copy of the reproduced template project (git history and DVC cache)."""
    return copy_repo(reproduced_template, tmp_path / "project")
