"""A keep-alive, pipelining client connection over asyncio: :func:`connect`."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Awaitable, Iterable

from httpaf.connection import BodyReader
from httpaf.model import Config, Headers, Request, Response

from .protocols import ClientProtocol

__all__ = ["Client", "ClientResponse", "connect"]


class ClientResponse:
    """A complete response: head and body bytes (and trailers, if any)."""

    __slots__ = ("response", "body", "trailers")

    def __init__(self, response: Response, body: bytes, trailers: Headers | None) -> None:
        self.response = response
        self.body = body
        self.trailers = trailers

    @property
    def status(self) -> int:
        """The status code."""
        return self.response.status

    @property
    def headers(self) -> Headers:
        """The response's header fields."""
        return self.response.headers

    def __repr__(self) -> str:
        return f"ClientResponse({self.response!r}, {self.body[:64]!r}...)"


class Client:
    """A keep-alive, pipelining HTTP/1.1 client connection."""

    def __init__(self, protocol: ClientProtocol, host: str) -> None:
        self._protocol = protocol
        self._host = host

    def request_nowait(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Awaitable[ClientResponse]:
        """Send a request now; the result resolves when its whole response is in.

        Several may be outstanding: they are pipelined and answered in order.
        ``Host`` and ``Content-Length`` are added when missing.
        """
        protocol = self._protocol
        fields = Headers(headers)
        if not fields.mem("host"):
            fields.add("Host", self._host)
        if body and not fields.mem("content-length") and not fields.mem("transfer-encoding"):
            fields.add("Content-Length", str(len(body)))
        future: asyncio.Future[ClientResponse] = asyncio.get_running_loop().create_future()

        def on_response(response: Response, reader: BodyReader) -> None:
            chunks: list[bytes] = []

            def on_read(data: memoryview) -> None:
                chunks.append(bytes(data))
                reader.schedule_read(on_read, on_eof)

            def on_eof() -> None:
                if not future.done():
                    future.set_result(ClientResponse(response, b"".join(chunks), reader.trailers))

            reader.schedule_read(on_read, on_eof)

        def on_error(error: BaseException) -> None:
            if not future.done():
                future.set_exception(error)

        protocol._busy = True
        try:
            writer = protocol.conn.request(Request(method, target, fields), on_response, on_error)
            if body:
                writer.write(body)
            writer.close()
        finally:
            protocol._busy = False
        protocol._fresh = True
        protocol._drive()
        return future

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> ClientResponse:
        """Send a request and wait for its whole response."""
        return await self.request_nowait(method, target, headers, body)

    async def close(self) -> None:
        """Close the connection (requests still waiting fail)."""
        protocol = self._protocol
        protocol.conn.shutdown()
        protocol._drive()
        if protocol._transport is not None:
            protocol._transport.close()
        await protocol.wait_closed()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def connect(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    config: Config | None = None,
    ssl: _ssl.SSLContext | None = None,
) -> Client:
    """Open a client connection to ``host:port``."""
    config = config if config is not None else Config()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: ClientProtocol(config), host, port, ssl=ssl)
    return Client(protocol, host if port == 80 else f"{host}:{port}")
