"""A connection whose requests go to the WSGI application."""

from __future__ import annotations

import asyncio
from typing import Any

from httpaf.aio import ServerProtocol
from httpaf.connection import ErrorHandler, Reqd
from httpaf.model import Config

from ._exchange import Exchange
from ._state import AppState

__all__ = ["WSGIProtocol"]


class WSGIProtocol(ServerProtocol):
    """A server connection whose requests go to the WSGI application."""

    __slots__ = (
        "state", "exchanges", "remote_addr", "remote_port", "server_name", "server_port",
        "scheme",
    )  # fmt: skip

    def __init__(
        self,
        state: AppState,
        error_handler: ErrorHandler | None,
        config: Config,
        connections: set[Any],
    ) -> None:
        super().__init__(self._handle, error_handler, config, connections)
        self.state = state
        self.exchanges: set[Exchange] = set()
        self.remote_addr = ""
        self.remote_port = "0"
        self.server_name = "localhost"
        self.server_port = "0"
        self.scheme = "http"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.remote_addr, self.remote_port = str(peer[0]), str(peer[1])
        here = transport.get_extra_info("sockname")
        if isinstance(here, tuple) and len(here) >= 2:
            self.server_name, self.server_port = str(here[0]), str(here[1])
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        for exchange in list(self.exchanges):
            exchange.loop_lost()
        super().connection_lost(exc)

    def _handle(self, reqd: Reqd) -> None:
        Exchange(self, reqd).loop_start()
