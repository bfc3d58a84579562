"""The package's layers: imports go one way, there are no cycles, and the core
depends on nothing but attrs. Read from the source, so a new import that breaks
the rule (docs/architecture.md) fails here, not in review."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "consultfsm"

DOC = PACKAGE.parent / "docs" / "architecture.md"
_TEXT = DOC.read_text(encoding="utf-8")
# The rules are read from docs/architecture.md, so the doc and the test cannot
# drift apart: its layer table (rank, subpackage, ..., third-party packages
# it may use) and its list of core modules, bottom up.
_LAYER_ROW = re.compile(r"^\| (\d+) \| `consultfsm\.(\w+)` \|.*\| ([^|]*) \|$", re.M)
#: Each subpackage's rank: a module may import its own subpackage and any of
#: lower rank, never one of higher or equal rank (siblings stay independent).
RANK: dict[str, int] = {name: int(rank) for rank, name, _ in _LAYER_ROW.findall(_TEXT)}
#: Third-party distributions each layer may import (the standard library is free).
THIRD_PARTY: dict[str, set[str]] = {
    name: {p.strip() for p in uses.split(",") if p.strip() not in ("", "(nothing)")}
    for _, name, uses in _LAYER_ROW.findall(_TEXT)
}
#: The core's modules in the order they may import each other.
CORE_ORDER: list[str] = re.findall(
    r"^\| `(\w+)` \|", _TEXT.split("## The core, bottom up", 1)[1].split("\n## ", 1)[0], re.M
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> Iterator[tuple[str, int]]:
    """Every module ``name`` imports (at any depth: TYPE_CHECKING and lazy
    imports inside functions count), resolved to absolute names, with lines."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                # `from pkg import mod` imports a module when there is one.
                submodule = f"{module}.{alias.name}"
                yield (submodule if submodule in MODULES else module), node.lineno


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def _internal_edges() -> dict[str, set[str]]:
    return {name: {m for m, _ in _imports(name) if m in MODULES and m != name} for name in MODULES}


def test_the_doc_states_the_rules() -> None:
    assert RANK["core"] == 0 and len(RANK) >= 8, RANK
    assert THIRD_PARTY["core"] == {"attrs"} and CORE_ORDER[:2] == ["text", "errors"], CORE_ORDER


def test_every_module_lives_in_a_ranked_subpackage() -> None:
    # No flat modules beside the facade and the entry point, and no folder of
    # modules that is not a package with a rank in docs/architecture.md.
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top == {"__init__.py", "__main__.py"}, f"flat modules: {top}"
    folders = {p.parent for p in PACKAGE.rglob("*.py")} - {PACKAGE}
    for folder in folders:
        assert (folder / "__init__.py").exists(), f"{folder} is not a package"
        assert folder.parent == PACKAGE, f"{folder}: nested subpackages need a rule first"
        assert folder.name in RANK, f"add {folder.name} to the layer table of docs/architecture.md"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name: str) -> None:
    mine = _layer(name)
    wrong = []
    for module, line in _imports(name):
        if not module.startswith("consultfsm"):
            continue
        theirs = _layer(module)
        if module == "consultfsm" and name not in ("consultfsm", "consultfsm.__main__"):
            wrong.append(f"line {line}: {module} (import from the subpackage, not the facade)")
        elif mine is None or theirs is None or mine == theirs:
            continue  # the facade and __main__ sit on top; a layer uses itself
        elif RANK[theirs] >= RANK[mine]:
            wrong.append(f"line {line}: {module} ({theirs} is not below {mine})")
    assert not wrong, f"{name} imports upward or sideways: {wrong}"


def test_the_facade_exports_only_the_core() -> None:
    layers = {_layer(m) for m, _ in _imports("consultfsm") if m.startswith("consultfsm.")}
    assert layers == {"core"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_layer_uses_only_its_own_third_party_packages(name: str) -> None:
    layer = _layer(name) or "core"
    allowed = THIRD_PARTY[layer] | {"consultfsm"}
    stdlib = sys.stdlib_module_names | {"__future__"}
    used = {module.split(".")[0] for module, _ in _imports(name)}
    extra = sorted(used - stdlib - allowed)
    assert not extra, f"{name} ({layer}) imports {extra}; allowed: {sorted(THIRD_PARTY[layer])}"


def test_there_are_no_import_cycles() -> None:
    edges = _internal_edges()
    # Package __init__ modules re-export their children; an edge from a child
    # to its own package's __init__ would make every re-export a cycle, so it
    # is forbidden outright instead (checked in the loop below).
    for name, targets in edges.items():
        if name.endswith(".__main__"):
            continue  # `python -m pkg` runs its package's entry point
        parents = {name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)}
        assert not (targets & parents), f"{name} imports its own package {targets & parents}"
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)


def test_the_core_imports_in_the_documented_order() -> None:
    # docs/architecture.md lists core's modules bottom-up; each imports only
    # modules listed before it.
    order = CORE_ORDER
    core = {m.rpartition(".")[2] for m in MODULES if m.startswith("consultfsm.core.")}
    assert core == set(order), f"update the core table of docs/architecture.md: {core}"
    edges = _internal_edges()
    for i, module in enumerate(order):
        allowed = {f"consultfsm.core.{m}" for m in order[:i]}
        used = {m for m in edges[f"consultfsm.core.{module}"] if m.startswith("consultfsm.core.")}
        assert used <= allowed, f"core.{module} imports {sorted(used - allowed)}"
