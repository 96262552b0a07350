"""ASGI 3.0 (HTTP spec 2.4, and lifespan) on the asyncio runtime.

Each request the engine parses becomes an ASGI ``http`` scope, and the application
is called with ``receive`` and ``send`` in a task of its own, with its own copy of
the connection's context. Where Python starts tasks eagerly (3.12+), the call's first
step runs inside the read that parsed the request, so a response given without
waiting goes out in the same pass (``_start``).


- ``receive`` gives the request body piece by piece (``more_body``); the first call
  makes the engine send ``100 Continue`` when the client asked for it. While the
  application does not call it, unread body bytes pile up only to
  ``Config.body_buffer_high_water``, then reading pauses. Once the body is read it
  waits for ``http.disconnect``: when the client goes away, or at once after the
  response is complete.
- ``send`` takes ``http.response.start``, ``http.response.body`` and the extensions
  ``http.response.trailers`` and ``http.response.pathsend`` (a file sent with
  ``os.sendfile`` through ``loop.sendfile`` where the transport allows it, else read
  in pieces). It returns without awaiting unless the transport's buffer is full; then
  it waits until the peer has read enough. A start followed by one body (no
  ``more_body``) goes out as one zero-copy response with ``Content-Length`` when the
  application set no length; a streamed body without one is chunked on HTTP/1.1 and
  close-delimited on HTTP/1.0. Sending on a closed connection raises
  :class:`ClientDisconnected` (an ``OSError``), as spec 2.4 asks.
- An application error before ``http.response.start`` is answered ``500``; after it,
  the connection is cut so that the client never takes a partial response for a
  whole one.

:func:`serve` starts a server (lifespan startup first), :func:`run` serves until
SIGINT or SIGTERM and then shuts down gracefully. WebSocket upgrades become
``websocket`` calls (``_websocket``): ``websocket.connect``/``receive``/``disconnect``
and ``websocket.accept``/``send``/``close``, subprotocols, the
``websocket.http.response`` denial extension, keep-alive pings, a message size limit
and permessage-deflate, with uvicorn's option names (see :func:`serve`).

The parts: ``_types`` (the ASGI types, exceptions), ``_scope`` (request to scope),
``_settings`` (what a server's connections share), ``_websocket`` (one WebSocket
call), ``_cycle`` (one request's
``receive`` and ``send``), ``_start`` (how a call starts), ``_protocol`` (a
connection), ``_lifespan``, ``_server`` (:func:`serve`, :func:`run`). Integrations
that embed the server (:mod:`httpaf.uvicorn`) use the names exported here.
"""

from __future__ import annotations

from httpaf._logs import escape

from ._cycle import Cycle
from ._lifespan import Lifespan
from ._protocol import ASGIProtocol
from ._scope import address, decode_fields, scope_headers, server_address
from ._server import run, serve
from ._settings import Settings
from ._types import (
    ASGIApp,
    ClientDisconnected,
    LifespanFailure,
    Message,
    Receive,
    Scope,
    Send,
)
from ._websocket import (
    WS_CHOICES,
    ReqdResponder,
    WebSocketCycle,
    WebSocketOptions,
    websocket_scope,
)

__all__ = [
    "ASGIApp",
    "ASGIProtocol",
    "ClientDisconnected",
    "Cycle",
    "Lifespan",
    "LifespanFailure",
    "Message",
    "Receive",
    "Scope",
    "ReqdResponder",
    "Send",
    "Settings",
    "WS_CHOICES",
    "WebSocketCycle",
    "WebSocketOptions",
    "address",
    "decode_fields",
    "escape",
    "run",
    "scope_headers",
    "serve",
    "server_address",
    "websocket_scope",
]
