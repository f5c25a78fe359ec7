"""The import graph of ``src/graph_sessions``: no cycles, nothing imports upward.

Built with ``ast`` from every ``import`` statement anywhere in a module (top level, inside
functions, under ``if TYPE_CHECKING:``), so a lazy or type-only import counts as an edge:
a cycle through one still means two modules that cannot be understood apart.

Layers, from the bottom: storage and checkpoint never import core, server, cli or graphs;
core never imports server or cli.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "graph_sessions"

# Package prefix -> the packages it must not import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    f"{PACKAGE}.storage": ("core", "server", "cli", "graphs"),
    f"{PACKAGE}.checkpoint": ("core", "server", "cli", "graphs"),
    f"{PACKAGE}.core": ("server", "cli"),
    # the MCP surface calls the core; the HTTP app mounts it (server/mcp_mount.py), not back
    f"{PACKAGE}.mcp": ("server", "cli"),
    # the inspector's assets: the server serves them, they import nothing of ours
    f"{PACKAGE}.ui": ("core", "server", "cli", "graphs", "storage", "checkpoint"),
    # below the core: the configuration file and the settings model it checks
    f"{PACKAGE}.config": ("core", "server", "cli"),
    f"{PACKAGE}.settings": ("core", "server", "cli", "graphs", "storage", "checkpoint"),
    f"{PACKAGE}.webhook_settings": ("core", "server", "cli", "graphs", "storage", "checkpoint"),
    # encryption sits below the savers and backends that use it
    f"{PACKAGE}.crypto": ("core", "server", "cli", "graphs", "storage", "checkpoint"),
}

# Cycles that exist outside the YAML compiler today, each named by its modules. Each one
# is an expected failure of its own test below; a cycle not listed here fails the suite.
KNOWN_CYCLES: dict[str, frozenset[str]] = {}


def module_files(root: Path = SRC) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    out: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str, path: Path, modules: Iterable[str]) -> set[str]:
    """The package's modules that ``module`` imports, wherever the import statement is."""
    known = set(modules)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, is_package, node)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            # `import a.b.c` where only a.b is ours (or a typo): the longest known prefix.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    files = module_files(root)
    return {name: imports_of(name, path, files) for name, path in files.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The import cycles: strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def a_cycle(graph: dict[str, set[str]], component: frozenset[str]) -> list[str]:
    """One concrete cycle inside ``component``, as ``[a, b, ..., a]``, for the message."""
    start = min(component)
    path = [start]
    seen = {start}
    while True:
        nxt = sorted(w for w in graph[path[-1]] if w in component)
        back = [w for w in nxt if w in seen]
        if back:
            return [*path[path.index(back[0]) :], back[0]]
        path.append(nxt[0])
        seen.add(nxt[0])


def upward_imports(graph: dict[str, set[str]]) -> Iterator[str]:
    """``a -> b`` for every import that goes against the layers."""
    for module, targets in sorted(graph.items()):
        for prefix, banned in FORBIDDEN.items():
            if module != prefix and not module.startswith(prefix + "."):
                continue
            for target in sorted(targets):
                for package in banned:
                    full = f"{PACKAGE}.{package}"
                    if target == full or target.startswith(full + "."):
                        yield f"{module} -> {target}"


# --------------------------------------------------------------------------- the checker itself


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_sees_lazy_relative_and_type_only_cycles(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from graph_sessions import b\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import X\n",
            "c.py": "import graph_sessions.a.x_is_not_a_module\n",
            "d.py": "from graph_sessions.a import f\n",
            "storage/__init__.py": "",
            "storage/s.py": "from ..core.m import g\n",
            "core/__init__.py": "",
            "core/m.py": "g = 1\n",
        },
    )
    graph = import_graph(root)
    assert graph["graph_sessions.a"] == {"graph_sessions.b"}
    assert graph["graph_sessions.b"] == {"graph_sessions.c"}
    assert graph["graph_sessions.c"] == {"graph_sessions.a"}
    assert graph["graph_sessions.d"] == {"graph_sessions.a"}
    cycles = strongly_connected(graph)
    assert cycles == [frozenset({"graph_sessions.a", "graph_sessions.b", "graph_sessions.c"})]
    assert a_cycle(graph, cycles[0]) == [
        "graph_sessions.a",
        "graph_sessions.b",
        "graph_sessions.c",
        "graph_sessions.a",
    ]
    assert list(upward_imports(graph)) == ["graph_sessions.storage.s -> graph_sessions.core.m"]


# --------------------------------------------------------------------------- the package


def test_no_import_cycle() -> None:
    graph = import_graph()
    unknown = [
        " -> ".join(a_cycle(graph, c))
        for c in strongly_connected(graph)
        if not any(c <= known for known in KNOWN_CYCLES.values())
    ]
    assert not unknown, "import cycles:\n" + "\n".join(unknown)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=f"known cycle: {name}"))
        for name in KNOWN_CYCLES
    ],
)
def test_known_cycle_is_gone(name: str) -> None:
    """Strict: once a known cycle is gone, this passes and fails the run; delete its entry."""
    graph = import_graph()
    left = [c for c in strongly_connected(graph) if c & KNOWN_CYCLES[name]]
    assert not left, " ; ".join(" -> ".join(a_cycle(graph, c)) for c in left)


def test_no_upward_import() -> None:
    assert not list(upward_imports(import_graph()))


def test_graph_covers_the_package() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.graphs.yaml" in graph
    assert f"{PACKAGE}.storage" in graph
    assert len(graph) > 40


@pytest.mark.parametrize(
    "module",
    [
        # One interpreter each (~1 s): one in the fast set, the rest with the slow suites.
        pytest.param(m, marks=() if m == f"{PACKAGE}.graphs" else pytest.mark.slow)
        for m in sorted(module_files())
    ],
)
def test_each_module_imports_alone(module: str) -> None:
    """A fresh interpreter imports the module first: an order-dependent cycle would fail."""
    if module.endswith("__main__"):
        pytest.skip("a program, not a module to import")
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, timeout=120)
