"""The blocking runtime: client connections over blocking sockets, pooled.

It drives the same :class:`~httpaf.ClientConnection` state machine as the asyncio
runtime (:mod:`httpaf.aio`), with ``sendall``/``sendmsg`` and ``recv_into``, for code
that does not run an event loop: :class:`httpaf.httpx.HTTPTransport` is built on it.

- :mod:`.connection`: one connection and its exchanges;
- :mod:`.busy`: reads that ask before they sleep (:class:`BusyReads`);
- :mod:`.pool`: the thread-safe pool, and opening connections (TLS, tunnels);
- :mod:`.session`: :class:`SyncSession`, requests over the pool, and
  :class:`SyncResponse`.
"""

from __future__ import annotations

from .busy import BusyReads
from .connection import SyncConnection, SyncExchange
from .pool import SyncPool, open_connection
from .session import SyncResponse, SyncSession

__all__ = [
    "BusyReads",
    "SyncConnection",
    "SyncExchange",
    "SyncPool",
    "SyncResponse",
    "SyncSession",
    "open_connection",
]
