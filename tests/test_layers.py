"""The package's layers, read from the imports of its source files (docs/architecture.md).

Each module belongs to one layer; it may import modules of lower layers and of its own
package, never a higher layer's; and no modules import each other in a loop. The
Cython sources are read too (their ``import`` and ``cimport`` lines).
"""

from __future__ import annotations

import ast
import os
import re

import pytest

import httpaf

PACKAGE = os.path.dirname(os.path.abspath(httpaf.__file__))

# Bottom-up. A module is in the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaf", ("httpaf._extensions", "httpaf._logs")),
    ("values", ("httpaf.model",)),
    ("wire", ("httpaf.wire", "httpaf._parser", "httpaf._serializer", "httpaf._websocket")),
    ("protocol", ("httpaf.connection", "httpaf.websocket")),
    ("net", ("httpaf.net",)),  # what the client runtimes share (docs/client.md)
    ("face", ("httpaf",)),  # httpaf/__init__.py: the names of the layers below
    ("runtime", ("httpaf.aio", "httpaf.asyncio", "httpaf.sync")),
    (
        "integrations",
        (
            "httpaf.asgi",
            "httpaf.wsgi",
            "httpaf.uvicorn",
            "httpaf.gunicorn",
            "httpaf.cli",
            "httpaf.__main__",
            "httpaf.httpx",
            "httpaf.client",
        ),
    ),
]
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}

#: Imports that go up the layers on purpose, inside a function (made when it is called,
#: never when the module loads): ``httpaf.run``, ``uvicorn.run``'s twin, is the face's
#: door to the command (``docs/cli.md``).
CALLED_UPWARD = {("httpaf", "httpaf.cli")}


def layer_of(module: str) -> str:
    """The layer of ``module`` (a dotted name inside httpaf)."""
    module = module.removesuffix("_pure")  # a pure twin is in its compiled twin's layer
    best = ("", "")
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > len(best[1]):
                best = (name, prefix)
    return best[0]


def modules() -> dict[str, str]:
    """Every module of the package's source: dotted name -> file."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            stem, ext = os.path.splitext(file)
            if ext not in (".py", ".pyx", ".pxd") or "__pycache__" in folder:
                continue
            relative = os.path.relpath(os.path.join(folder, stem), os.path.dirname(PACKAGE))
            name = relative.replace(os.sep, ".").removesuffix(".__init__")
            found.setdefault(name, os.path.join(folder, file))
    return found


def imports_of(module: str, path: str) -> set[str]:
    """The httpaf modules ``path`` imports (absolute dotted names)."""
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    names: set[str] = set()
    if path.endswith(".py"):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
    else:  # Cython: import and cimport lines
        source = open(path, encoding="utf-8").read()
        for match in re.finditer(r"^\s*(?:from\s+(\S+)\s+c?import|c?import\s+(\S+))", source, re.M):
            base = match.group(1) or match.group(2)
            if base.startswith("."):
                dots = len(base) - len(base.lstrip("."))
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - dots + 1], base.lstrip(".")]).rstrip(".")
            names.add(base)
    known = modules()
    return {name for name in names if name in known and name != module}


def test_every_module_has_a_layer() -> None:
    assert [m for m in modules() if not layer_of(m)] == []


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_go_down_the_layers(module: str) -> None:
    path = modules()[module]
    mine = layer_of(module)
    upward = [
        (name, layer_of(name))
        for name in sorted(imports_of(module, path))
        if RANK[layer_of(name)] > RANK[mine] and (module, name) not in CALLED_UPWARD
    ]
    assert upward == [], f"{module} ({mine}) imports from higher layers"


def test_the_face_loads_no_runtime() -> None:
    path = os.path.join(PACKAGE, "__init__.py")
    face = imports_of("httpaf", path) - {name for _, name in CALLED_UPWARD}
    assert {layer_of(name) for name in face} <= {"leaf", "values", "wire", "protocol"}
    # the imports allowed upward are made in a function, never as the module loads
    tree = ast.parse(open(path, encoding="utf-8").read())
    loaded = {
        ("httpaf." if node.level else "") + (node.module or "")
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
    } | {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for _, name in CALLED_UPWARD} & loaded


def test_no_import_cycles() -> None:
    graph = {name: imports_of(name, path) for name, path in modules().items()}
    # a package's modules import their own package (its __init__) as Python does when
    # they are loaded: that is no dependency of theirs, so those edges are left out
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
