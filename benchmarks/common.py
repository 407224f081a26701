"""What every benchmark shares: the interpreter's bin directory, the environment
the timed commands run in, compiling tether's bytecode before timing, and building
a copy of the example project from its template files.

Compile tether's modules to bytecode before timing anything:
An installed package has its bytecode written once (`make setup` runs uv sync with
--compile-bytecode, as pip compiles site-packages by default); tether is installed
editable, and where PYTHONDONTWRITEBYTECODE is set every timed command would compile
tether's sources again (about 30 ms a run) while DVC and GTO load theirs from
site-packages. Writing the .pyc files first compares like with like.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tether

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]

# The files that make up the template project a user copies (the same list as
# tests/conftest.py's TEMPLATE_PATHS; benchmarks do not import the tests package).
TEMPLATE = [
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

# The timed commands' environment: no system git config, a fixed identity for
# commits and tags, no DVC analytics.
ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@tether.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@tether.invalid",
    "DVC_NO_ANALYTICS": "1",
}


def compile_tether() -> None:
    compileall.compile_dir(str(Path(tether.__file__).parent), quiet=1)


def copy_template(root: Path) -> None:
    """Copy the template project's files from this checkout into root (which exists)."""
    for rel in TEMPLATE:
        src = PROJECT / rel
        if src.is_dir():
            shutil.copytree(src, root / rel, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command, exiting with its output if it fails."""
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, text=True, capture_output=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def isolated_env(base: Path) -> dict[str, str]:
    """The environment for commands run under base: a home of base/home with its own
    git identity, no system git config, no DVC analytics, this interpreter's bin
    first on PATH, temporary files under base."""
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@tether.invalid\n")
    return {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "TMPDIR": str(base),
    }


def reproduced_project(base: Path, env: dict[str, str]) -> Path:
    """base/project: the template committed, reproduced with `tether run` and
    committed again, its DVC remote `local` pointed at base/remote."""
    root = base / "project"
    root.mkdir()
    copy_template(root)
    run("git", "init", "-q", cwd=root, env=env)
    run("git", "add", "-A", cwd=root, env=env)
    run("git", "commit", "-qm", "template", cwd=root, env=env)
    run(BIN / "tether", "run", cwd=root, env=env)
    run("git", "add", "-A", cwd=root, env=env)
    run("git", "commit", "-qm", "reproduced", "--allow-empty", cwd=root, env=env)
    run(
        BIN / "dvc",
        "remote",
        "modify",
        "--local",
        "local",
        "url",
        base / "remote",
        cwd=root,
        env=env,
    )
    return root
