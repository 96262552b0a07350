"""Import-time choice between the Cython extensions and their pure-Python twins."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["load", "NO_EXTENSIONS"]

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
