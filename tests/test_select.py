"""The import-time choice of implementation (``httpaf._select``), in fresh interpreters.

The connection layer (``reqd``, ``server_connection``) is one source: a build compiles
its ``.py`` with Cython (declarations in the ``.pxd`` beside it) and the compiled
module shadows the ``.py``; ``HTTPAF_NO_EXTENSIONS=1`` must load the ``.py`` instead.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

import httpaf
from httpaf import _select

PROBE = """
import json, httpaf, httpaf.parser, httpaf.serializer, httpaf.reqd, httpaf.server_connection
from httpaf import _select
print(json.dumps({
    "implementation": httpaf.implementation,
    "parser": httpaf.parser.implementation,
    "serializer": httpaf.serializer.implementation,
    "files": {name: __import__("httpaf." + name, fromlist=["x"]).__file__
              for name in _select.COMPILED_MODULES},
    "same_reqd": httpaf.Reqd is httpaf.reqd.Reqd,
    "same_conn": httpaf.ServerConnection is httpaf.server_connection.ServerConnection,
}))
"""

HERE = os.path.dirname(os.path.dirname(os.path.abspath(httpaf.__file__)))


def probe(no_extensions: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "HTTPAF_NO_EXTENSIONS"}
    if no_extensions is not None:
        env["HTTPAF_NO_EXTENSIONS"] = no_extensions
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=HERE, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def built(name: str) -> bool:
    """Whether a compiled module for ``httpaf.<name>`` sits in the package."""
    package = os.path.dirname(os.path.abspath(httpaf.__file__))
    return bool(glob.glob(os.path.join(package, f"{name}.*.so")))


def test_the_connection_layer_modules_have_declarations() -> None:
    package = os.path.dirname(os.path.abspath(httpaf.__file__))
    for name in _select.COMPILED_MODULES:
        assert os.path.exists(os.path.join(package, f"{name}.py"))
        assert os.path.exists(os.path.join(package, f"{name}.pxd"))


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_extensions_loads_every_module_from_its_source(value: str) -> None:
    result = probe(value)
    assert result["implementation"] == "python"
    assert result["parser"] == result["serializer"] == "python"
    files = result["files"]
    assert isinstance(files, dict)
    for name in _select.COMPILED_MODULES:
        assert files[name].endswith(f"{name}.py")
    assert result["same_reqd"] and result["same_conn"]


@pytest.mark.parametrize("value", [None, "", "0"])
def test_without_the_switch_the_compiled_modules_are_used_when_built(value: str | None) -> None:
    result = probe(value)
    files = result["files"]
    assert isinstance(files, dict)
    for name in _select.COMPILED_MODULES:
        assert files[name].endswith(".so") == built(name)
    everything_built = all(built(n) for n in (*_select.COMPILED_MODULES, "_parser", "_serializer"))
    assert result["implementation"] == ("cython" if everything_built else "python")
    assert result["same_reqd"] and result["same_conn"]


FIRST_IMPORTS = [
    "import httpaf.reqd",
    "import httpaf.server_connection",
    "from httpaf.reqd import Reqd",
    "from httpaf.server_connection import ServerConnection",
    "import httpaf.body",
    "import httpaf.asyncio",
    "import httpaf._driver",
]


@pytest.mark.parametrize("no_extensions", [None, "1"])
@pytest.mark.parametrize("statement", FIRST_IMPORTS)
def test_any_module_can_be_imported_first(statement: str, no_extensions: str | None) -> None:
    # The compiled reqd and server_connection import each other's classes as they
    # start, which works in one order only (httpaf._select imports them in it).
    env = {k: v for k, v in os.environ.items() if k != "HTTPAF_NO_EXTENSIONS"}
    if no_extensions is not None:
        env["HTTPAF_NO_EXTENSIONS"] = no_extensions
    code = f"{statement}\nimport httpaf\nconn = httpaf.ServerConnection(lambda reqd: None)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=HERE, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr

