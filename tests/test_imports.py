"""The package's imports run one way: no module imports, directly or through others, a module
that imports it back (STYLE: a backend that imports nothing above it; ops -> autograd -> backend).
Every import statement that runs counts, at module level or inside a function; those under
``if TYPE_CHECKING:`` only name types for the type checker and never run."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import fastnn

PACKAGE = Path(fastnn.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Dict[str, Path]:
    found = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    found["fastnn._C"] = PACKAGE / "_C.pyi"  # the compiled module imports nothing of fastnn
    return found


def _runtime_nodes(tree: ast.AST) -> List[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``."""
    out: List[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and \
                node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def imports_of(name: str, path: Path, known: Set[str]) -> Set[str]:
    """The package modules that ``name`` imports (a ``from X import y`` of a submodule y counts
    as importing X.y), and the packages above them, whose __init__ runs first (except the
    packages that hold ``name`` itself: they are already running when it is imported)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: Set[str] = set()
    own = {name.rsplit(".", k)[0] for k in range(name.count(".") + 1)}
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        targets: List[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem
                       for a in node.names]
        for t in targets:
            if t in known:
                found.add(t)
            parent = t.rpartition(".")[0]
            while parent and parent != "fastnn":
                if parent in known and parent not in own:
                    found.add(parent)
                parent = parent.rpartition(".")[0]
    found.discard(name)
    return found


def test_the_package_has_no_import_cycle():
    known = modules()
    graph = {name: imports_of(name, path, set(known)) for name, path in known.items()
             if path.suffix == ".py"}
    graph["fastnn._C"] = set()
    assert "fastnn.layers.core" in graph and "fastnn.trainers.trainer" in graph  # the walk works
    # depth-first search for a back edge, reporting the cycle it closes
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_backend_imports_nothing_above_the_compiled_module():
    known = modules()
    assert imports_of("fastnn._backend", known["fastnn._backend"], set(known)) <= {"fastnn._C"}
