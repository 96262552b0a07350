"""What a ``trace`` callback (httpx's ``trace`` request extension) is shown of a
connection."""

from __future__ import annotations

import socket
import ssl
from typing import Any

__all__ = ["TraceStream"]


class TraceStream:
    """What a ``trace`` callback gets for a connection: ``get_extra_info(name)``, with
    httpcore's names (``server_addr``, ``client_addr``, ``ssl_object``, ``socket``)."""

    _NAMES = {"server_addr": "peername", "client_addr": "sockname"}

    def __init__(self, source: Any) -> None:
        self._source = source  # a transport (asyncio) or a socket (blocking)

    def get_extra_info(self, name: str) -> Any:
        source = self._source
        if source is None:
            return None
        if isinstance(source, socket.socket):
            if name == "server_addr":
                return source.getpeername()
            if name == "client_addr":
                return source.getsockname()
            if name == "ssl_object":
                return source if isinstance(source, ssl.SSLSocket) else None
            return source if name == "socket" else None
        return source.get_extra_info(self._NAMES.get(name, name))
