"""WebSocket (RFC 6455, with permessage-deflate: RFC 7692) as a state machine that
does no I/O and reads no clock, over httpaf's upgrade hand-off.

- :mod:`.handshake`: the opening handshake (``read_request``, ``accept``, ``reject``
  on a server; ``client_request``, ``read_response`` on a client);
- :class:`WebSocketConnection`: frames, messages, pings and the closing handshake,
  driven like the HTTP engine (bytes in, events and iovecs out); plain Python that
  a build also compiles with Cython into ``_compiled/`` (:data:`implementation`);
- :class:`WebSocketConfig`: its limits and options;
- :mod:`.deflate`: permessage-deflate's negotiation and bounded inflation;
- :mod:`.events`: :class:`Ping`, :class:`Pong`, :class:`Close` (messages are the
  ``str`` or ``bytes`` they carry).

The frame codec under it is the wire layer's (:mod:`httpaf.wire`: ``FrameReader``,
``encode_frame``, ``frame_header``, ``mask``; Cython when built). The asyncio runtime
(:mod:`httpaf.aio.websocket`) drives it; ``docs/websocket.md`` shows both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from httpaf._extensions import NO_EXTENSIONS
from httpaf.model import FrameError, HandshakeError, WebSocketError

from .config import WebSocketConfig
from .deflate import PerMessageDeflate
from .events import Close, Ping, Pong

if TYPE_CHECKING:
    from .connection import WebSocketConnection, random_mask_keys
else:
    try:
        if NO_EXTENSIONS:
            raise ImportError("HTTPAF_NO_EXTENSIONS is set")
        from ._compiled.connection import WebSocketConnection, random_mask_keys
    except ImportError:
        from .connection import WebSocketConnection, random_mask_keys
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

#: ``"cython"`` when the compiled state machine is in use, else ``"python"``.
implementation = "cython" if "._compiled." in WebSocketConnection.__module__ else "python"

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
    "implementation",
    "client_request",
    "is_websocket_request",
    "random_mask_keys",
    "read_request",
    "read_response",
    "reject",
]
