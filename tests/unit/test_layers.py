"""The shape of app/ (docs/architecture.md): layers that only import downward, no import cycles
(type-only imports included), small folders and small modules.

Read from the source with `ast`, so that an import under `if TYPE_CHECKING:` or inside a function
counts as much as one at the top: a cycle of types is still two modules that cannot be read apart.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

# Lowest first. A package may import its own modules and any package of a lower layer; packages of
# one layer do not import each other. engine's subpackages are layered the same way inside it.
LAYERS: list[set[str]] = [
    {"core"},
    {"engine"},
    {"store"},
    {"agent"},
    {"dialects"},
    {"files", "tenancy"},
    {"usage"},
    {"workspaces"},
    {"sessions", "batches"},
    {"observability", "doors"},
    {"demo"},
    {"http"},
]
ENGINE_LAYERS: list[set[str]] = [
    {"sdk_private"},
    {"wrapper_script"},
    {"agent"},
    {"processes"},
    {"reading", "transcripts"},
    {"turns"},
    {"interface"},
    {"models"},
    {"tokens"},
    {"claude"},
]
MAX_MODULES_PER_FOLDER = 15
MAX_LINES = 300


def modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The app modules `name` imports (a package's `__init__` when it imports the package)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if base != "app" and not base.startswith("app."):
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
    found.discard(name)
    return found & known


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, set(known)) for name, path in known.items()}


def rank(name: str, layers: list[set[str]], depth: int) -> int | None:
    parts = name.split(".")
    if len(parts) <= depth:
        return None
    for level, packages in enumerate(layers):
        if parts[depth] in packages:
            return level
    raise AssertionError(f"{name}: its package is in no layer of tests/unit/test_layers.py")


def upward(edges: dict[str, set[str]]) -> list[str]:
    found = []
    for source, targets in edges.items():
        for target in targets:
            for layers, depth, inside in ((LAYERS, 1, "app"), (ENGINE_LAYERS, 2, "app.engine")):
                if not (source.startswith(inside + ".") and target.startswith(inside + ".")):
                    continue
                mine, theirs = rank(source, layers, depth), rank(target, layers, depth)
                same = source.split(".")[depth] == target.split(".")[depth]
                if mine is not None and theirs is not None and not same and theirs >= mine:
                    found.append(f"{source} -> {target}")
    return sorted(found)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_layers_only_import_downward() -> None:
    assert upward(graph()) == []


def test_every_package_has_a_layer() -> None:
    packages = {path.parent.name for path in APP.glob("*/__init__.py")}
    assert packages == set().union(*LAYERS)
    engine = {
        path.stem if path.name != "__init__.py" else path.parent.name for path in (APP / "engine").glob("*/__init__.py")
    }
    engine |= {path.stem for path in (APP / "engine").glob("*.py") if path.name != "__init__.py"}
    assert engine == set().union(*ENGINE_LAYERS)


def test_folders_and_modules_stay_small() -> None:
    folders = Counter(path.parent for path in modules().values() if path.name != "__init__.py")
    assert {str(folder.relative_to(APP)): n for folder, n in folders.items() if n > MAX_MODULES_PER_FOLDER} == {}
    long = {
        str(path.relative_to(APP)): n
        for path in modules().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    """The checks above can fail: a made-up graph with a cycle and a core module importing http."""
    edges = {"app.core.a": {"app.http.b"}, "app.http.b": {"app.core.a"}, "app.engine.agent.x": {"app.engine.turns.y"}}
    edges["app.engine.turns.y"] = set()
    assert cycles(edges) == [["app.core.a", "app.http.b"]]
    assert upward(edges) == ["app.core.a -> app.http.b", "app.engine.agent.x -> app.engine.turns.y"]
