"""WebSocket (RFC 6455, with permessage-deflate: RFC 7692) as a state machine that
does no I/O and reads no clock, over httpaf's upgrade hand-off.

- :mod:`.handshake`: the opening handshake (``read_request``, ``accept``, ``reject``
  on a server; ``client_request``, ``read_response`` on a client);
- :class:`WebSocketConnection`: frames, messages, pings and the closing handshake,
  driven like the HTTP engine (bytes in, events and iovecs out);
- :class:`WebSocketConfig`: its limits and options;
- :mod:`.deflate`: permessage-deflate's negotiation and bounded inflation;
- :mod:`.events`: :class:`Ping`, :class:`Pong`, :class:`Close` (messages are the
  ``str`` or ``bytes`` they carry).

The frame codec under it is the wire layer's (:mod:`httpaf.wire`: ``FrameReader``,
``encode_frame``, ``frame_header``, ``mask``; Cython when built). The asyncio runtime
(:mod:`httpaf.aio.websocket`) drives it; ``docs/websocket.md`` shows both.
"""

from __future__ import annotations

from httpaf.model import FrameError, HandshakeError, WebSocketError

from .config import WebSocketConfig
from .connection import WebSocketConnection, random_mask_keys
from .deflate import PerMessageDeflate
from .events import Close, Ping, Pong
from .handshake import (
    ClientHandshake,
    accept,
    accept_key,
    client_request,
    is_websocket_request,
    read_request,
    read_response,
    reject,
)

__all__ = [
    "ClientHandshake",
    "Close",
    "FrameError",
    "HandshakeError",
    "PerMessageDeflate",
    "Ping",
    "Pong",
    "WebSocketConfig",
    "WebSocketConnection",
    "WebSocketError",
    "accept",
    "accept_key",
    "client_request",
    "is_websocket_request",
    "random_mask_keys",
    "read_request",
    "read_response",
    "reject",
]
