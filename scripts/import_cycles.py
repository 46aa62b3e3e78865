"""Fails when modules of a package import each other in a cycle, local and TYPE_CHECKING imports included.

grimp (import-linter's engine) builds the import graph; scipy finds its strongly connected components.
import-linter's own acyclic contract compares whole sibling packages, a coarser rule than the
module-level one this project keeps.
"""

from __future__ import annotations

import sys

import grimp
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def module_cycles(package: str) -> list[list[str]]:
    """Each group of two or more modules that reach one another by imports."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=False)
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = [(index[m], index[t]) for m in modules for t in graph.find_modules_directly_imported_by(m) if t in index]
    rows, cols = (np.array(side, dtype=int) for side in zip(*edges, strict=True)) if edges else ([], [])
    adjacency = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(modules), len(modules)))
    count, labels = connected_components(adjacency, directed=True, connection="strong")
    groups = [[modules[i] for i in np.flatnonzero(labels == label)] for label in range(count)]
    return sorted(g for g in groups if len(g) > 2 or (len(g) == 2 and not _package_and_its_module(*g)))


def _package_and_its_module(first: str, second: str) -> bool:
    # A package's __init__ re-exporting a submodule that imports a sibling through it is its normal shape.
    return second.startswith(first + ".") or first.startswith(second + ".")


def main() -> int:
    package = sys.argv[1] if len(sys.argv) > 1 else "cvn_assets"
    cycles = module_cycles(package)
    for cycle in cycles:
        print("import cycle: " + " -> ".join(cycle))
    print(f"{len(cycles)} import cycle(s) in {package}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
