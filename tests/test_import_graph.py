"""The import graph of ``medtorch/``: no cycle, and no module over 400 lines.

Every ``import`` statement counts wherever it stands: at module level, inside a function, under
``if TYPE_CHECKING:`` or in a ``try``. A lazy import hides a cycle from the interpreter until the
day the function runs first in the wrong order; it does not remove it. Edges go to the module an
import names: ``from medtorch.x import y`` is an edge to ``medtorch.x.y`` when ``y`` is a
submodule and to ``medtorch.x`` otherwise; relative imports are resolved. A package's
``__init__`` is an edge target only when an import names the package itself, so a module that
imports a sibling (``medtorch.data.split`` from ``medtorch.data.sources``) is no cycle through
``medtorch/data/__init__.py``.

Written here (pure ``ast``, no import of medtorch) because the graph must include the
function-local imports that tools reading ``sys.modules`` never see; it runs in well under a second.
A module named by a string at run time (``importlib.import_module(VERBS[verb][0])`` in ``cli.py``)
is no edge: only import statements are.
"""

from __future__ import annotations

import ast
from collections import deque
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def module_index(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``root/package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest prefix of ``name`` that is a module of the package (``None``: not ours)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in modules:
            return candidate
    return None


def imports_of(module: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its body."""
    path = modules[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_known(alias.name, modules))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(node, module, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else _known(base, modules))
    found.discard(None)
    found.discard(module)
    return found  # type: ignore[return-value]


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = module_index(root, package)
    return {m: imports_of(m, modules) for m in modules}


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def _shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside one component (breadth first)."""
    parent = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node] & within):
            if nxt == start:
                path = [node]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return []


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle as a path ``[a, b, ..., a]``: for every module of a component, the shortest one
    through it (duplicates, the same cycle from another starting module, dropped)."""
    cycles, seen = [], set()
    for comp in _components(graph):
        members = set(comp)
        for start in comp:
            path = _shortest_cycle(graph, start, members)
            ring = path[:-1]
            k = ring.index(min(ring))
            key = tuple(ring[k:] + ring[:k])
            if key not in seen:
                seen.add(key)
                cycles.append(list(key) + [key[0]])
    return cycles


def long_modules(root: Path, package: str, limit: int = MAX_LINES) -> dict[str, int]:
    lengths = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in module_index(root, package).items()}
    return {m: n for m, n in lengths.items() if n > limit}


# --- the package itself ---------------------------------------------------------------------

@lru_cache(maxsize=None)
def _medtorch_graph() -> dict[str, set[str]]:
    return import_graph(ROOT, "medtorch")


def test_medtorch_has_no_import_cycle():
    cycles = find_cycles(_medtorch_graph())
    assert not cycles, "import cycles in medtorch/ (function-local and TYPE_CHECKING imports count):\n  " + \
        "\n  ".join(" -> ".join(c) for c in cycles)


def test_no_medtorch_module_is_over_400_lines():
    long = long_modules(ROOT, "medtorch")
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility):\n  " + \
        "\n  ".join(f"{m}: {n}" for m, n in sorted(long.items()))


def test_the_graph_sees_the_whole_package():
    graph = _medtorch_graph()
    assert len(graph) > 100 and "medtorch.config" in graph and "medtorch.cli" in graph
    assert "medtorch.errors" in graph["medtorch.cli"]  # a module-level import


# --- the walker, on packages made for the purpose -------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_cycle_through_a_function_local_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import helper\n",
        "pkg/b.py": "def helper():\n    from pkg import a\n    return a\n",
        "pkg/c.py": "import pkg.a\n",  # into the cycle, not part of it
    })
    assert find_cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_a_type_checking_import_and_a_relative_import_are_edges(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.y import Y\n",
        "pkg/y.py": "from .sub import x\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.sub.x"] == {"pkg.y"} and graph["pkg.y"] == {"pkg.sub.x"}
    assert find_cycles(graph) == [["pkg.sub.x", "pkg.y", "pkg.sub.x"]]


def test_a_package_init_makes_no_false_cycle(tmp_path):
    # the package re-exports from its modules; the modules import each other and a name of the
    # package's __init__ that is a submodule: no cycle, although each import runs __init__ first
    root = _package(tmp_path, {
        "pkg/__init__.py": "from pkg.core import run\nfrom pkg.schema import Schema\n",
        "pkg/core.py": "from pkg.schema import Schema\nfrom pkg import util\nfrom . import util as u2\n",
        "pkg/schema.py": "class Schema: ...\n",
        "pkg/util.py": "import os\nimport pkg.schema\n",
        "pkg/user.py": "from pkg import run\n",  # a name of __init__, not a module: an edge to pkg
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.core"] == {"pkg.schema", "pkg.util"}
    assert graph["pkg.user"] == {"pkg"}
    assert find_cycles(graph) == []


def test_every_cycle_of_a_component_is_named(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "import pkg.b\nimport pkg.c\n",
        "pkg/b.py": "import pkg.a\n",
        "pkg/c.py": "def f():\n    import pkg.a\n",
    })
    assert find_cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.a", "pkg.c", "pkg.a"]]


def test_long_modules_counts_physical_lines(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/ok.py": "x = 1\n" * 400, "pkg/long.py": "\n" * 401})
    assert long_modules(root, "pkg") == {"pkg.long": 401}
