"""Import-time choice between the Cython extensions and their pure-Python twins."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

__all__ = [
    "COMPILED_MODULES",
    "NO_EXTENSIONS",
    "connection_layer_is_compiled",
    "load",
    "load_connection_layer",
    "load_sources",
]

#: Plain Python modules that a build also compiles with Cython (pure Python mode,
#: declarations in the ``.pxd`` beside each): the compiled module shadows the ``.py``.
COMPILED_MODULES = ("body", "reqd", "server_connection", "_driver")

#: ``HTTPAF_NO_EXTENSIONS=1`` (any value but empty or ``0``) forces pure Python.
NO_EXTENSIONS = os.environ.get("HTTPAF_NO_EXTENSIONS", "") not in ("", "0")


def load(name: str) -> tuple[ModuleType, str]:
    """Import ``httpaf._<name>`` (Cython) or ``httpaf._<name>_py``; say which."""
    if not NO_EXTENSIONS:
        try:
            return importlib.import_module(f"httpaf._{name}"), "cython"
        except ImportError:
            pass
    return importlib.import_module(f"httpaf._{name}_py"), "python"


def load_sources() -> None:
    """Import :data:`COMPILED_MODULES` from their ``.py`` (for ``HTTPAF_NO_EXTENSIONS``).

    A compiled module takes precedence over the ``.py`` of the same name in a normal
    import, so the sources are loaded explicitly (in dependency order) before anything
    imports them.
    """
    here = os.path.dirname(__file__)
    for name in COMPILED_MODULES:
        fullname = f"httpaf.{name}"
        if fullname in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(fullname, os.path.join(here, f"{name}.py"))
        if spec is None or spec.loader is None:  # pragma: no cover - the file ships
            raise ImportError(f"cannot load {fullname} from source")
        module = importlib.util.module_from_spec(spec)
        sys.modules[fullname] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[fullname]
            raise
        setattr(sys.modules["httpaf"], name, module)  # as an import binds a submodule


def connection_layer_is_compiled() -> bool:
    """Whether every module of :data:`COMPILED_MODULES` in use is the compiled one."""
    modules = [importlib.import_module(f"httpaf.{name}") for name in COMPILED_MODULES]
    return not any((module.__file__ or "").endswith(".py") for module in modules)


def load_connection_layer() -> None:
    """Import the connection layer in the one order its compiled modules allow.

    Compiled, ``reqd`` and ``server_connection`` refer to each other's classes (C
    types), which each module fetches from the other as it starts: ``server_connection``
    must start first (it then sets its class before importing ``reqd``). Pure Python,
    the sources are loaded here (:func:`load_sources`).
    """
    if NO_EXTENSIONS:
        load_sources()
    else:
        importlib.import_module("httpaf.server_connection")


load_connection_layer()  # on import: httpaf/__init__ imports this module first
