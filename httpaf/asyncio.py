"""The asyncio runtime's public face: serve a request handler, or make requests.

Everything here is :mod:`httpaf.aio`'s (see its modules); this import path is the one
the documentation uses: ``from httpaf.asyncio import run, serve, connect`` (and, for WebSocket,
``accept_websocket``, ``connect_websocket``, ``WebSocket``).
"""

from __future__ import annotations

from httpaf.aio import (
    LINGER_SECONDS,
    Client,
    ClientResponse,
    Server,
    WebSocket,
    WebSocketClosed,
    accept_websocket,
    connect,
    connect_websocket,
    new_event_loop,
    run,
    serve,
    shutdown,
)

__all__ = [
    "Client",
    "ClientResponse",
    "WebSocketClosed",
    "LINGER_SECONDS",
    "Server",
    "WebSocket",
    "accept_websocket",
    "connect",
    "connect_websocket",
    "new_event_loop",
    "run",
    "serve",
    "shutdown",
]
