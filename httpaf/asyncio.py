"""The asyncio runtime's public face: serve a request handler, or make requests.

Everything here is :mod:`httpaf.aio`'s (see its modules); this import path is the one
the documentation uses: ``from httpaf.asyncio import run, serve, connect``.
"""

from __future__ import annotations

from httpaf.aio import (
    LINGER_SECONDS,
    Client,
    ClientResponse,
    Server,
    connect,
    new_event_loop,
    run,
    serve,
    shutdown,
)

__all__ = [
    "Client",
    "ClientResponse",
    "LINGER_SECONDS",
    "Server",
    "connect",
    "new_event_loop",
    "run",
    "serve",
    "shutdown",
]
