"""The package's import graph: no circles, and the layers import only downward (ui →
world → the readers of prepared data → sources → the core modules), so each can be read
and changed without the ones above it. Read from the source with `ast`, so a lazy
import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "apron_core"
LAYERS = ("ui", "world", "readers", "sources")  # top to bottom; the rest is "core"
# the modules that read what sources write (the prepared format of sources/prepared.py),
# or derive from it what models train and are evaluated on (missing_tags: a Dataset with
# a share of its observed tags hidden)
READERS = {"apron_core.dataset", "apron_core.evaluation", "apron_core.missing_tags"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, modules: set[str]) -> set[tuple[str, bool]]:
    """(module, at top level) for each apron_core module `path` imports; `from pkg import
    sub` names the submodule, not the package."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[tuple[str, bool]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        else:
            continue
        found |= {(t, id(node) in top) for t in targets if t in modules and t != name}
    return found


def import_graph() -> dict[str, set[tuple[str, bool]]]:
    paths = {module_name(p): p for p in ROOT.rglob("*.py")}
    return {m: imported_modules(p, m, set(paths)) for m, p in paths.items()}


def layer(module: str) -> str:
    if module in READERS:
        return "readers"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "core"


def find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                return [*path[path.index(n) :], n] if n in path else [m, n]
            if n not in state and (circle := visit(n, [*path, n])):
                return circle
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (circle := visit(m, [m])):
            return circle
    return None


def test_no_import_circle_even_counting_lazy_imports():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    edges = {m: {t for t, _ in ts} for m, ts in graph.items()}
    assert find_circle(edges) is None, find_circle(edges)


def test_find_circle_finds_one():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_layers_import_only_downward():
    order = {name: i for i, name in enumerate(LAYERS)} | {"core": len(LAYERS)}
    upward = sorted(
        f"{m} -> {t}"
        for m, ts in import_graph().items()
        for t, _ in ts
        if order[layer(t)] < order[layer(m)]
    )
    assert upward == []
