"""aiodjango's modules import each other one way: no cycle, no function-level import dodging one."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aiodjango"

# (importing module, imported module) -> why the import sits inside a function.
ALLOWED_LOCAL: dict[tuple[str, str], str] = {
    ("aiodjango.__main__", "aiodjango.loading"): (
        "the loader imports the user's project: only after --settings/--pythonpath are applied"
    ),
    ("aiodjango.workers", "aiodjango.loading"): (
        "gunicorn imports the worker class in the master; the project is loaded post-fork"
    ),
    # The same two, from before the one loader (issue 9 item 2) replaced them.
    ("aiodjango.__main__", "aiodjango.application"): "as __main__ -> loading",
    ("aiodjango.workers", "aiodjango.application"): "as workers -> loading",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The aiodjango modules an ``ImportFrom`` names (``from . import x`` names ``pkg.x``)."""
    if node.level:
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    if not (target == "aiodjango" or target.startswith("aiodjango.")):
        return []
    found = [target]
    for alias in node.names:  # `from . import checks` imports the submodule
        candidate = f"{target}.{alias.name}"
        if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists():
            found.append(candidate)
    return found


def _imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(imported aiodjango module, inside a function?) for every import in ``path``."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    local: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            local.update(id(child) for child in ast.walk(node) if child is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for target in _resolve(module, path.name == "__init__.py", node):
                yield target, id(node) in local
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "aiodjango" or alias.name.startswith("aiodjango."):
                    yield alias.name, id(node) in local


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    graph: dict[str, set[str]] = {}
    local: list[tuple[str, str]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        edges = graph.setdefault(module, set())
        for target, in_function in _imports(path):
            if target != module and not module.startswith(target + "."):
                edges.add(target)  # a package's own __init__ runs first anyway: not an edge
            if in_function:
                local.append((module, target))
    return graph, local


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_graph_is_read() -> None:
    """The walk sees the package's known edges (so an empty graph cannot pass the tests below)."""
    graph, _ = _graph()
    assert "aiodjango.interop" in graph["aiodjango.dispatch"]
    assert "aiodjango.websocket" in graph["aiodjango.dispatch"]
    assert "aiodjango.checks" in graph["aiodjango.apps"]


def test_no_import_cycle() -> None:
    """No aiodjango module imports, directly or not, one that imports it back."""
    graph, _ = _graph()
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_detection_works() -> None:
    """The cycle finder reports a cycle it is given."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_function_level_imports() -> None:
    """aiodjango modules import each other at module level, except the listed, reasoned cases."""
    _, local = _graph()
    unexplained = sorted(set(local) - set(ALLOWED_LOCAL))
    assert not unexplained, unexplained


def test_interop_is_a_leaf() -> None:
    """interop imports nothing from aiodjango: everything above may use it."""
    graph, _ = _graph()
    assert graph["aiodjango.interop"] == set()
