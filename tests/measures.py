"""The size measures of the code: modules over 400 lines, functions over 60 lines, import cycles.

Run ``.venv/bin/python -m tests.measures`` (``--path DIR`` for another package directory). It
prints each module of ``scaler/`` longer than :data:`MAX_MODULE_LINES`, each function or method
longer than :data:`MAX_FUNCTION_LINES` (decorators and docstring included) and each group of
modules that import one another in a cycle (any import: at the top, inside a function or under
``TYPE_CHECKING``), longest first. It reports; ``tests/foundation/test_measures.py`` fails when
``scaler/`` has any (``metrics.py`` excepted), and ``lint-imports`` fails on a cycle between the
modules of a package (the ``acyclic_siblings`` contract of pyproject.toml).
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True, order=True)
class Measure:
    """One place over its limit: how many lines, and where."""

    lines: int
    place: str


def long_modules(package: Path, limit: int = MAX_MODULE_LINES) -> list[Measure]:
    """The modules under ``package`` with more than ``limit`` lines, longest first."""
    found = [
        Measure(len(path.read_text().splitlines()), str(path.relative_to(package.parent)))
        for path in package.rglob("*.py")
    ]
    return sorted((measure for measure in found if measure.lines > limit), reverse=True)


def _functions(tree: ast.AST, prefix: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


def long_functions(package: Path, limit: int = MAX_FUNCTION_LINES) -> list[Measure]:
    """The functions and methods under ``package`` with more than ``limit`` lines, longest first."""
    found = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for name, node in _functions(tree, ""):
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            lines = (node.end_lineno or node.lineno) - first + 1
            if lines > limit:
                found.append(Measure(lines, f"{path.relative_to(package.parent)}:{first} {name}"))
    return sorted(found, reverse=True)


def import_cycles(package: str) -> list[list[str]]:
    """The groups of modules of ``package`` that import one another in a cycle (Tarjan's strongly
    connected components of the import graph, those of two modules or more), each sorted."""
    graph = grimp.build_graph(package)
    modules = sorted(graph.modules)
    imports = {module: sorted(set(graph.find_modules_directly_imported_by(module)) & set(modules)) for module in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(cycles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=REPO / "scaler", help="the package directory (default: scaler/)")
    package = parser.parse_args().path.resolve()
    modules = long_modules(package)
    functions = long_functions(package)
    cycles = import_cycles(package.name)
    print(f"modules over {MAX_MODULE_LINES} lines: {len(modules)}")
    for measure in modules:
        print(f"  {measure.lines:5}  {measure.place}")
    print(f"functions over {MAX_FUNCTION_LINES} lines: {len(functions)}")
    for measure in functions:
        print(f"  {measure.lines:5}  {measure.place}")
    print(f"import cycles between modules: {len(cycles)}")
    for cycle in cycles:
        print(f"  {' <-> '.join(cycle)}")


if __name__ == "__main__":
    main()
