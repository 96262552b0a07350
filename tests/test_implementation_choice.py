"""Which implementation each layer uses, decided once at import, in fresh interpreters.

``HTTPAF_NO_EXTENSIONS`` (read by ``httpaf._extensions`` alone) makes every layer use
its pure-Python modules; without it, the compiled ones are used where they are built.
``import httpaf`` loads no event loop, whichever is used.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

import httpaf

HERE = os.path.dirname(os.path.dirname(os.path.abspath(httpaf.__file__)))
PACKAGE = os.path.dirname(os.path.abspath(httpaf.__file__))

PROBE = """
import json, sys
import httpaf
loaded_asyncio = "asyncio" in sys.modules
import httpaf.aio, httpaf.connection, httpaf.wire
print(json.dumps({
    "asyncio": loaded_asyncio,
    "implementation": httpaf.implementation,
    "layers": {
        "wire": httpaf.wire.implementation,
        "connection": httpaf.connection.implementation,
        "aio": httpaf.aio.implementation,
    },
    "modules": {
        "parser": httpaf.RequestParser.__module__,
        "serializer": httpaf.Serializer.__module__,
        "server": httpaf.ServerConnection.__module__,
        "reqd": httpaf.Reqd.__module__,
        "driver": httpaf.aio.Driver.__module__,
    },
    "same_reqd": httpaf.Reqd is httpaf.connection.Reqd,
}))
"""

# The compiled modules of each layer (their files, without the extension suffix).
COMPILED = {
    "wire": ["_parser", "_serializer"],
    "connection": [f"connection/_compiled/{n}" for n in ("body", "reqd", "server", "client")],
    "aio": ["aio/_compiled/driver"],
}


def probe(no_extensions: str | None, code: str = PROBE) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; the JSON object it printed last."""
    env = {k: v for k, v in os.environ.items() if k != "HTTPAF_NO_EXTENSIONS"}
    if no_extensions is not None:
        env["HTTPAF_NO_EXTENSIONS"] = no_extensions
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=HERE, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


def built(layer: str) -> bool:
    """Whether every compiled module of ``layer`` is built in the package."""
    return all(glob.glob(os.path.join(PACKAGE, f"{name}.*.so")) for name in COMPILED[layer])


def test_every_compiled_module_has_its_pure_source() -> None:
    for name in COMPILED["connection"] + COMPILED["aio"]:
        folder, _, module = name.rpartition("/_compiled/")
        assert os.path.exists(os.path.join(PACKAGE, folder, module + ".py"))
        assert os.path.exists(os.path.join(PACKAGE, folder, "_compiled", module + ".pxd"))
    for name in COMPILED["wire"]:
        assert os.path.exists(os.path.join(PACKAGE, name + ".pyx"))
        assert os.path.exists(os.path.join(PACKAGE, name + "_pure.py"))


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_extensions_makes_every_layer_pure(value: str) -> None:
    result = probe(value)
    assert result["implementation"] == "python"
    assert result["layers"] == {"wire": "python", "connection": "python", "aio": "python"}
    assert result["modules"] == {
        "parser": "httpaf._parser_pure",
        "serializer": "httpaf._serializer_pure",
        "server": "httpaf.connection.server",
        "reqd": "httpaf.connection.reqd",
        "driver": "httpaf.aio.driver",
    }
    assert result["same_reqd"]


@pytest.mark.parametrize("value", [None, "", "0"])
def test_without_the_switch_the_compiled_modules_are_used_when_built(value: str | None) -> None:
    result = probe(value)
    layers = result["layers"]
    assert isinstance(layers, dict)
    for layer in COMPILED:
        assert layers[layer] == ("cython" if built(layer) else "python"), layer
    everything = all(built(layer) for layer in COMPILED)
    assert result["implementation"] == ("cython" if everything else "python")
    assert result["same_reqd"]


@pytest.mark.parametrize("no_extensions", [None, "1"])
def test_import_httpaf_loads_no_event_loop(no_extensions: str | None) -> None:
    assert probe(no_extensions)["asyncio"] is False


FIRST_IMPORTS = [
    "import httpaf.connection.reqd",
    "import httpaf.connection.server",
    "from httpaf.connection import Reqd",
    "import httpaf.connection._compiled.server",
    "import httpaf.connection.body",
    "import httpaf.wire",
    "import httpaf.model",
    "import httpaf.asyncio",
    "import httpaf.aio.driver",
    "import httpaf.asgi",
    "import httpaf.wsgi",
    "import httpaf.uvicorn",
]


@pytest.mark.parametrize("no_extensions", [None, "1"])
@pytest.mark.parametrize("statement", FIRST_IMPORTS)
def test_any_module_can_be_imported_first(statement: str, no_extensions: str | None) -> None:
    if "_compiled" in statement and not built("connection"):
        pytest.skip("the connection layer is not compiled")
    code = (
        f"{statement}\nimport httpaf\n"
        "conn = httpaf.ServerConnection(lambda reqd: None)\n"
        "print('{\"ok\": true}')"
    )
    assert probe(no_extensions, code) == {"ok": True}
