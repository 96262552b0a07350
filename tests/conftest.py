"""Shared fixtures: the wire layer in both implementations."""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import DATA, LOOPS, ServerProcess


def _load(kind: str) -> types.SimpleNamespace | None:
    """The parser and serializer modules of one implementation, or None if absent."""
    suffix = "" if kind == "cython" else "_pure"
    try:
        parser = importlib.import_module(f"httpaf._parser{suffix}")
        serializer = importlib.import_module(f"httpaf._serializer{suffix}")
    except ImportError:
        return None
    return types.SimpleNamespace(
        name=kind,
        parser=parser,
        serializer=serializer,
        RequestParser=parser.RequestParser,
        ResponseParser=parser.ResponseParser,
        Serializer=serializer.Serializer,
    )


@pytest.fixture(params=["python", "cython"])
def wire(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """The wire layer (parsers and serializer) of each implementation in turn."""
    impl = _load(request.param)
    if impl is None:
        pytest.skip("the Cython extensions are not built")
    return impl


@pytest.fixture(params=LOOPS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    """Each event loop in turn (asyncio's, then uvloop's)."""
    return str(request.param)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    """A file holding ``DATA``."""
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers (subprocesses) a test starts, always stopped at its end."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.__exit__()
