"""Layers point one way: the product's import graph has no cycle and no import that points up a layer.

The graph is built by parsing every product module with `ast`, so it sees what a runtime check
cannot: imports inside functions and under `if TYPE_CHECKING:` count like any other (a cycle that
is only hidden is still a cycle a reader has to hold in their head). Only product packages are
scanned; test tooling that lives under tests/ is not part of the graph.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tag_tools", "station_agent", "registry_service", "list_signer", "cylinder_demo")
APPLICATIONS = ("station_agent", "registry_service", "list_signer", "cylinder_demo")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imported(name: str, path: Path, node: ast.AST) -> Iterator[str]:
    """The full names one import statement names (`module` or `module.attribute`)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        # `from package import submodule` depends on the submodule; the package's __init__ (which
        # Python loads anyway) counts only when a name is taken from it.
        yield from (f"{base}.{alias.name}" for alias in node.names)


@cache
def _graph() -> dict[str, frozenset[str]]:
    """module -> product modules it imports (the longest product module each import names)."""
    modules = _modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for full in _imported(name, path, node):
                candidate = full
                while candidate and candidate not in modules:
                    candidate = candidate.rpartition(".")[0]
                if candidate and candidate != name:
                    targets.add(candidate)
        graph[name] = frozenset(targets)
    return graph


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _upward(importer: str, imported: str) -> str | None:
    """Why `importer -> imported` points up a layer, or None when it points down or sideways."""
    if _within(importer, "tag_tools") and not _within(importer, "tag_tools.cli", "tag_tools.readers", "tag_tools.emulation"):
        if _within(imported, "tag_tools.cli", "tag_tools.readers", "tag_tools.emulation", *APPLICATIONS):
            return "the format/crypto core imports a transport, the emulator, the command line or an application"
    # tag_tools.ntag (datasheet facts, pure data) and tag_tools.chip_evidence lie below transports too.
    # The package itself may re-export the protocol's read_tag/write_tag: nothing below imports it.
    transport = _within(importer, "tag_tools.readers") and importer not in (
        "tag_tools.readers",
        "tag_tools.readers.ntag_protocol",
    )
    if transport and _within(imported, "tag_tools.readers.ntag_protocol", "tag_tools.verdict"):
        return "a transport imports the protocol (or the verdict) above it"
    if _within(importer, "registry_service.services", "registry_service.models") and _within(
        imported, "registry_service.api", "registry_service.dashboard", "registry_service.app", "registry_service.auth"
    ):
        return "a registry service or model imports the web layer (services take plain values)"
    return None


def _flask_imports(module: str) -> bool:
    tree = ast.parse(_modules()[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        for full in _imported(module, _modules()[module], node):
            if _within(full, "flask", "werkzeug", "flask_babel"):
                return True
    return False


def test_the_graph_is_built_from_every_product_module() -> None:
    graph = _graph()
    assert "tag_tools.verdict" in graph and "registry_service.app" in graph
    # imports inside functions are seen: the app factory imports its blueprints lazily
    assert "registry_service.api" in graph["registry_service.app"]


# Empty since issue 13: a new cycle or upward import fails here until it is fixed (or, as a
# written-down decision, listed by name).
KNOWN_CYCLES: list[list[str]] = []
KNOWN_UPWARD: set[str] = set()


def test_no_import_cycle_even_inside_functions_or_for_type_checking() -> None:
    assert _cycles(_graph()) == KNOWN_CYCLES


def test_no_import_points_up_a_layer() -> None:
    wrong = {
        f"{importer} -> {imported}"
        for importer, targets in sorted(_graph().items())
        for imported in sorted(targets)
        if _upward(importer, imported)
    }
    assert wrong == KNOWN_UPWARD


def test_registry_services_and_models_do_not_import_flask() -> None:
    wrong = [
        m for m in sorted(_modules()) if _within(m, "registry_service.services", "registry_service.models") and _flask_imports(m)
    ]
    assert wrong == []


def test_the_checks_find_a_planted_cycle_and_an_upward_import() -> None:
    assert _cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}) == [
        ["a", "b", "c"]
    ]
    assert _upward("tag_tools.verdict", "tag_tools.readers.base") is not None
    assert _upward("tag_tools.spec_example", "tag_tools.cli.main") is not None
    assert _upward("tag_tools.readers.base", "tag_tools.readers.ntag_protocol") is not None
    assert _upward("tag_tools.readers.pcsc_backend", "tag_tools.readers.ntag_protocol") is not None
    assert _upward("tag_tools.readers", "tag_tools.readers.ntag_protocol") is None
    assert _upward("registry_service.services.events", "registry_service.auth") is not None
    assert _upward("tag_tools.readers.ntag_protocol", "tag_tools.verdict") is None
