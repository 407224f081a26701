"""Short functions everywhere in tether (none over sixty lines); the command
layer thin, with the renderers in the domains."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tether"
# Every module: the command layer, the renderers and the domains.
MODULES = sorted(SRC.rglob("*.py"))
MAX_LINES = 60


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.end_lineno - node.lineno + 1)  # type: ignore[operator]
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_over_sixty_lines(path: Path) -> None:
    long = [f"{name} ({lines} lines)" for name, lines in _functions(path) if lines > MAX_LINES]
    assert not long, f"split these in {path.name}: {', '.join(long)}"


def test_the_check_sees_long_functions(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    sample = tmp_path / "long.py"
    sample.write_text(f"def long():\n{body}\n")
    assert _functions(sample) == [("long", MAX_LINES + 1)]


def test_commands_print_no_rich_markup_of_their_own() -> None:
    """Command modules print through tether.cli.output (plain text) or a domain's
    renderer; a console.print with markup left on would read repository names
    as markup (the verify bug)."""
    for path in (SRC / "cli").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if ".print(" in line and path.name != "output.py":
                assert "markup=False" in line, f"{path.name}:{number}: {line.strip()}"
