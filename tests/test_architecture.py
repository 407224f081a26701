"""The layers of src/tether, checked: no import cycle between any two modules nor
between any two packages (imports inside functions included: one hidden there is
a cycle all the same), every folder a real package (grimp and import-linter skip a
namespace package without a word), no tether module imported inside a function
outside the CLI (where lazy imports keep `tether --help` fast), processes started
only by backends, and import-linter's contracts from pyproject.toml."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grimp
import networkx as nx

from tests.helpers import BIN, run

SRC = Path(__file__).resolve().parents[1] / "src" / "tether"


class _Graph(Protocol):
    @property
    def modules(self) -> set[str]: ...

    def find_modules_directly_imported_by(self, module: str) -> set[str]: ...


def import_cycles(graph: _Graph) -> list[list[str]]:
    """Every set of modules that import each other, directly or through others:
    the strongly connected components of more than one module (networkx, which
    DVC already depends on)."""
    edges = nx.DiGraph()
    edges.add_nodes_from(graph.modules)
    for module in graph.modules:
        edges.add_edges_from(
            (module, imported) for imported in graph.find_modules_directly_imported_by(module)
        )
    found = [sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1]
    return sorted(found)


def test_no_import_cycles() -> None:
    # grimp reads every import statement, those inside functions included;
    # `if TYPE_CHECKING:` imports never run and are left out.
    graph = grimp.build_graph("tether", exclude_type_checking_imports=True)
    assert len(graph.modules) > 40  # the whole package was read
    assert import_cycles(graph) == []


@dataclass(frozen=True)
class PackageGraph:
    """Modules collapsed to their top-level package under the root (tether.verify,
    tether.dvcfiles...): an edge where any module of one imports any of the other."""

    edges: dict[str, set[str]]

    @classmethod
    def of(cls, graph: grimp.ImportGraph, root: str) -> PackageGraph:
        def top(module: str) -> str:
            return ".".join(module.split(".")[:2])

        edges: dict[str, set[str]] = {}
        for module in graph.modules:
            if module == root:
                continue
            imported = {top(m) for m in graph.find_modules_directly_imported_by(module)}
            edges.setdefault(top(module), set()).update(imported - {top(module), root})
        return cls(edges)

    @property
    def modules(self) -> set[str]:
        return set(self.edges)

    def find_modules_directly_imported_by(self, module: str) -> set[str]:
        return self.edges.get(module, set())


def test_no_import_cycles_between_packages() -> None:
    """A cycle of packages needs no cycle of modules (a.x -> b.y -> a.z): the
    layers mean nothing while one exists."""
    graph = PackageGraph.of(
        grimp.build_graph("tether", exclude_type_checking_imports=True), "tether"
    )
    assert {"tether.verify", "tether.dvcfiles", "tether.serve"} <= graph.modules
    assert import_cycles(graph) == []


def test_package_cycle_counter_finds_a_cycle_made_of_different_modules(
    tmp_path: Path, monkeypatch
) -> None:
    root = tmp_path / "layered"
    for package, text in {"a": "from layered.b import y\n", "b": ""}.items():
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
        (root / package / "x.py").write_text(text)
    (root / "__init__.py").write_text("")
    (root / "b" / "y.py").write_text("from layered.a import z\n")
    (root / "a" / "z.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("layered", cache_dir=None)
    assert import_cycles(graph) == []  # no two modules import each other
    assert import_cycles(PackageGraph.of(graph, "layered")) == [["layered.a", "layered.b"]]


def test_every_folder_of_the_source_is_a_regular_package() -> None:
    folders = [d for d in SRC.rglob("*") if d.is_dir() and d.name != "__pycache__"]
    assert len(folders) > 8
    assert [str(d.relative_to(SRC)) for d in folders if not (d / "__init__.py").is_file()] == []


def test_processes_are_started_by_backends_only() -> None:
    """subprocess is imported in tether.backends alone: one place knows how tether
    starts, times out and stops other programs."""
    found = []
    for path in SRC.rglob("*.py"):
        if SRC / "backends" in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if "subprocess" in names:
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []


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
    assert "Contracts: 2 kept, 0 broken." in proc.stdout, proc.stdout
    assert proc.returncode == 0


# The domains the command layer drives, each through its api module and its
# renderers (report's Markdown body is one); the shared readers and backends below
# them (revisions, registry, errors...) are doors any layer may use.
DOMAINS = (
    "metrics",
    "pipeline",
    "release",
    "verify",
    "replay",
    "monitor",
    "tune",
    "report",
    "serve",
)
FACING = {"api", "render", "markdown"}


def _tether_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of a tether module in ``path``, a
    ``from tether.X import Y`` counted as ``tether.X.Y`` when Y is a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("tether.")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tether."):
            base = node.module or ""
            for alias in node.names:
                as_module = f"{base}.{alias.name}"
                is_module = (SRC.parent / (as_module.replace(".", "/") + ".py")).exists()
                found.append((node.lineno, as_module if is_module else base))
    return found


def reaches_past_api(path: Path) -> list[str]:
    """``file:line module`` for each import of a domain module other than its api
    or a renderer."""
    hits = []
    for line, module in _tether_imports(path):
        parts = module.split(".")
        if len(parts) >= 3 and parts[1] in DOMAINS and parts[2] not in FACING:
            hits.append(f"{path.name}:{line} {module}")
    return hits


def test_the_cli_reaches_each_domain_through_its_api() -> None:
    for domain in DOMAINS:
        assert (SRC / domain / "api.py").is_file(), f"tether.{domain} has no api.py"
    found = [hit for path in sorted((SRC / "cli").glob("*.py")) for hit in reaches_past_api(path)]
    assert found == []


def test_the_api_check_sees_a_reach_past_it(tmp_path: Path) -> None:
    module = tmp_path / "cmd.py"
    module.write_text(
        "from tether.tune.api import tune\nfrom tether.tune import render\n"
        "from tether.tune.study import apply\nfrom tether.tune import board\n"
    )
    assert reaches_past_api(module) == ["cmd.py:3 tether.tune.study", "cmd.py:4 tether.tune.board"]
