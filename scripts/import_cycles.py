"""Fails when modules of a package import each other in a cycle, local and TYPE_CHECKING imports included.

Written here rather than taken from grimp or import-linter: both resolve `from package import module`
to the module alone, while Python runs the package's __init__ first, so a cycle through a package's
re-exports would go unseen. scipy finds the strongly connected components of the graph.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at `root`."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports anywhere in its file (a package counts for `from package`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, path.name == "__init__.py", node)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _absolute(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def module_cycles(root: Path) -> list[list[str]]:
    """Each group of modules that reach one another by imports (a package and its own module excepted)."""
    modules = module_files(root)
    names = sorted(modules)
    index = {m: i for i, m in enumerate(names)}
    edges = [(index[m], index[t]) for m in names for t in imported_modules(m, modules[m], modules)]
    rows = np.array([e[0] for e in edges], dtype=int)
    cols = np.array([e[1] for e in edges], dtype=int)
    adjacency = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(names), len(names)))
    count, labels = connected_components(adjacency, directed=True, connection="strong")
    groups = [[names[i] for i in np.flatnonzero(labels == label)] for label in range(count)]
    return sorted(g for g in groups if len(g) > 2 or (len(g) == 2 and not _package_and_its_module(*g)))


def _package_and_its_module(first: str, second: str) -> bool:
    # A package's __init__ re-exporting a submodule that imports a sibling through it is its normal shape.
    return second.startswith(first + ".") or first.startswith(second + ".")


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "cvn_assets").resolve()
    cycles = module_cycles(root)
    for cycle in cycles:
        print("import cycle: " + ", ".join(cycle))
    print(f"{len(cycles)} import cycle(s) in {root.name}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
