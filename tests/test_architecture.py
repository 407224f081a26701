"""The layers of src/tether, checked: no import cycle between any two modules
(imports inside functions included: one hidden there is a cycle all the same),
no tether module imported inside a function outside the CLI (where lazy imports
keep `tether --help` fast), and import-linter's contracts from pyproject.toml."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

from tests.helpers import BIN, run

SRC = Path(__file__).resolve().parents[1] / "src" / "tether"


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every set of modules that import each other, directly or through others
    (the strongly connected components with more than one module; Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles() -> None:
    # grimp reads every import statement, those inside functions included;
    # `if TYPE_CHECKING:` imports never run and are left out.
    graph = grimp.build_graph("tether", exclude_type_checking_imports=True)
    assert len(graph.modules) > 40  # the whole package was read
    assert import_cycles(graph) == []


def test_cycle_counter_finds_a_cycle_hidden_in_a_function(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic import a\n")
    (package / "c.py").write_text("from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic", cache_dir=None)
    assert import_cycles(graph) == [["cyclic.a", "cyclic.b"]]


def function_level_imports(path: Path, root: Path = SRC.parent) -> list[str]:
    """``file:line module`` for each import of a tether module inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." if node.level else (node.module or "")]
            else:
                continue
            for name in names:
                if name == "." or name == "tether" or name.startswith("tether."):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_no_function_level_tether_import_outside_the_cli() -> None:
    files = [p for p in SRC.rglob("*.py") if SRC / "cli" not in p.parents]
    assert len(files) > 30
    found = sorted({hit for path in files for hit in function_level_imports(path)})
    assert found == []


def test_function_level_import_finder(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\n\ndef f():\n    import json\n    from tether.errors import UsageError\n"
    )
    assert [h.split(" ")[1] for h in function_level_imports(module, tmp_path)] == ["tether.errors"]


def test_import_contracts_hold() -> None:
    proc = run(BIN / "lint-imports", cwd=SRC.parents[1], check=False)
    assert "Contracts: 3 kept, 0 broken." in proc.stdout, proc.stdout
    assert proc.returncode == 0
