"""The package's parts import downward only, and no two of them import each other (read with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "axolotl_packing_bench"

LAYERS = {
    "constants": 0,
    "core": 0,
    "packing": 1,
    "compat": 1,
    "assets": 1,
    "data": 2,
    "probes": 2,
    "plugin": 3,
    "matrix": 3,
    "results": 4,
    "doctor": 4,
    "report": 5,
    "eval": 5,
    "running": 6,
    "cli": 7,
}
"""Higher layers may import lower ones, never the reverse (parts not listed are leaves or libraries below)."""


def imports() -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) -> the files doing it; function-level imports included."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative == Path("__init__.py"):
            continue  # the package root re-exports the plugin lazily
        part = relative.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = (
                    [node.module] if node.module != PACKAGE.name else [f"{PACKAGE.name}.{a.name}" for a in node.names]
                )
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                pieces = name.split(".")
                if pieces[0] == PACKAGE.name and len(pieces) > 1 and pieces[1] != part:
                    edges.setdefault((part, pieces[1]), []).append(str(relative))
    return edges


def test_no_part_imports_a_higher_layer():
    upward = {
        edge: files
        for edge, files in imports().items()
        if edge[0] in LAYERS and edge[1] in LAYERS and LAYERS[edge[1]] > LAYERS[edge[0]]
    }
    assert upward == {}


def test_the_parts_form_no_cycle():
    graph: dict[str, set[str]] = {}
    for source, target in imports():
        graph.setdefault(source, set()).add(target)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                cycle.extend([*trail, node, following])
                return True
            if state.get(following) is None and visit(following, [*trail, node]):
                return True
        state[node] = 2
        return False

    for node in sorted(graph):
        if state.get(node) is None and visit(node, []):
            break
    assert cycle == [], " -> ".join(cycle)


def test_the_check_sees_function_level_imports(tmp_path):
    edges = imports()
    assert ("running", "eval") in edges  # follow_up imports eval inside a function
    assert ("cli", "running") in edges


def test_every_module_lives_in_a_part():
    loose = sorted(path.name for path in PACKAGE.glob("*.py") if path.name not in {"__init__.py", "constants.py"})
    assert loose == []


def test_every_part_has_a_layer():
    parts = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert parts - set(LAYERS) == set()
