"""The asyncio runtime: sockets, read buffers, timers and flow control around the
state machines (public as :mod:`httpaf.asyncio`).

- :mod:`.driver`: a connection's read and write loops over a transport, its shared
  read buffer, its timers (compiled when built);
- :mod:`.protocols`: the drivers as ``asyncio.BufferedProtocol`` classes;
- :mod:`.server`: :func:`serve`, :func:`run` and :class:`Server` for native handlers;
- :mod:`.client`: :func:`connect`, a keep-alive, pipelining client connection;
- :mod:`.loop`: event loops (uvloop when installed) and serving until a signal;
- :mod:`.websocket`: WebSocket sessions over the upgrade hand-off
  (:func:`accept_websocket`, :func:`connect_websocket`, :class:`WebSocket`).
"""

from __future__ import annotations

from .client import Client, ClientResponse, connect
from .loop import listen, new_event_loop, run_until_signal
from .protocols import (
    LINGER_SECONDS,
    PROBE_SECONDS,
    ClientProtocol,
    Driver,
    ServerDriver,
    ServerProtocol,
    implementation,
)
from .server import Server, run, serve, shutdown
from .websocket import WebSocket, WebSocketClosed, accept_websocket, connect_websocket

__all__ = [
    "Client",
    "ClientProtocol",
    "ClientResponse",
    "WebSocketClosed",
    "Driver",
    "LINGER_SECONDS",
    "PROBE_SECONDS",
    "Server",
    "ServerDriver",
    "ServerProtocol",
    "connect",
    "implementation",
    "listen",
    "new_event_loop",
    "run",
    "run_until_signal",
    "serve",
    "WebSocket",
    "accept_websocket",
    "connect_websocket",
    "shutdown",
]
