"""The asyncio runtime: serve a request handler, or make requests, over sockets.

The runtime owns each connection's read buffer (``asyncio.BufferedProtocol``, so the
loop reads straight into it), presents unconsumed bytes again with new ones, grows the
buffer up to ``Config.max_head_size`` for large heads, pauses reading while the
connection yields, and waits for ``resume_writing`` when the transport's buffer is
full. uvloop is used when installed unless ``use_uvloop=False``.

Upgrades: a handler's ``respond_with_upgrade(response, on_upgrade)`` gets, once the
101 is written, ``on_upgrade(transport, leftover)`` called with the transport and the
bytes read after the request; it returns the ``asyncio.Protocol`` that takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl as _ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .body import BodyReader
from .client_connection import ClientConnection
from .config import Config
from .errors import StateError
from .headers import Headers
from .message import Request, Response
from .operation import CLOSE, READ, UPGRADE, YIELD, Closed, Write
from .reqd import ErrorHandler
from .server_connection import RequestHandler, ServerConnection

__all__ = [
    "Client",
    "ClientResponse",
    "Server",
    "connect",
    "new_event_loop",
    "run",
    "serve",
    "shutdown",
]

#: Seconds to keep reading (and discarding) after the last byte was sent, so that a
#: client's unread request bytes do not turn our close into a reset that eats the
#: response (a "lingering close").
LINGER_SECONDS = 2.0

_SMALL_WRITE = 65536


def _payload(iovecs: list[memoryview]) -> list[Any]:
    """What to hand the transport: bytes it may keep, never views of reused buffers.

    Transports may keep a reference to what they could not send yet (uvloop, and
    asyncio since 3.12), while the serializer reuses its buffer once a write is
    reported; so views of mutable memory are copied, views of ``bytes`` are not.
    """
    if len(iovecs) == 1:
        iov = iovecs[0]
        return [iov if type(iov.obj) is bytes else bytes(iov)]
    if sum(map(len, iovecs)) <= _SMALL_WRITE:
        return [b"".join(iovecs)]
    return [iov if type(iov.obj) is bytes else bytes(iov) for iov in iovecs]


class _Driver(asyncio.BufferedProtocol):
    """Drives a server or client connection over a transport (shared machinery)."""

    conn: Any

    def __init__(self, config: Config) -> None:
        self._config = config
        self._buf = bytearray(config.read_buffer_size)
        self._cap = max(config.read_buffer_size, config.max_head_size + config.max_request_line)
        self._start = 0  # unconsumed bytes are self._buf[self._start:self._end]
        self._end = 0
        self._transport: asyncio.Transport | None = None
        self._fresh = False  # unconsumed bytes not yet shown to the connection
        self._eof = False  # the peer finished sending
        self._reading_paused = False
        self._write_paused = False  # the transport asked us to stop (flow control)
        self._in_callback = False  # inside read(): defer wakeups until it returns
        self._reader_wanted = False
        self._writer_wanted = False
        self._reader_waiting = False  # a yield_reader callback is registered
        self._writer_waiting = False  # a yield_writer callback is registered
        self._reader_done = False
        self._writer_done = False
        self._upgraded = False
        self._linger: asyncio.TimerHandle | None = None
        self._closed = asyncio.get_running_loop().create_future()

    # -- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._drive()

    def get_buffer(self, sizehint: int) -> memoryview:
        buf, start, end = self._buf, self._start, self._end
        if end == len(buf):
            if start:
                # Move the unconsumed bytes to the front; the size does not change.
                buf[: end - start] = buf[start:end]
                self._start, self._end = 0, end - start
            else:
                # A head bigger than the buffer: grow it up to the head limit (#18).
                size = len(buf) * 2
                grown = bytearray(min(size, self._cap) if len(buf) < self._cap else size)
                grown[:end] = buf[:end]
                self._buf = grown
        return memoryview(self._buf)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        if self._reader_done:
            self._start = self._end = 0  # after CLOSE, input is discarded
            return
        self._end += nbytes
        self._fresh = True
        self._drive_reader()
        self._after_callback()

    def eof_received(self) -> bool:
        self._eof = True
        if self._reader_done:
            self._maybe_close()
        else:
            self._fresh = True
            self._drive_reader()
            self._after_callback()
        # Keep the transport open, responses may still be going out (SSL cannot).
        transport = self._transport
        return transport is None or transport.get_extra_info("sslcontext") is None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._drive_writer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._reader_done = self._writer_done = True
        if self._linger is not None:
            self._linger.cancel()
        conn = self.conn
        if conn is not None and not conn.is_closed:
            with contextlib.suppress(Exception):
                conn.report_write_result(CLOSE)
        if not self._closed.done():
            self._closed.set_result(None)

    # -- driving the connection ------------------------------------------------------

    def _drive(self) -> None:
        self._drive_reader()
        self._after_callback()

    def _after_callback(self) -> None:
        """Run the write loop once the read path returns (batches pipelined replies)."""
        self._writer_wanted = False
        self._drive_writer()
        if self._reader_wanted:
            self._reader_wanted = False
            self._drive_reader()
            self._after_callback()

    def _wake_reader(self) -> None:
        self._reader_waiting = False
        self._fresh = True
        if self._in_callback:
            self._reader_wanted = True
        else:
            self._drive_reader()
            self._after_callback()

    def _wake_writer(self) -> None:
        self._writer_waiting = False
        if self._in_callback:
            self._writer_wanted = True
        else:
            self._drive_writer()

    def _drive_reader(self) -> None:
        conn = self.conn
        transport = self._transport
        if self._reader_done or transport is None:
            return
        while True:
            try:
                op = conn.next_read_operation()
                if op is READ:
                    if self._fresh and (self._start < self._end or self._eof):
                        self._fresh = False
                        self._feed()
                        continue
                    if self._eof:  # read_eof consumed nothing more: stop reading
                        self._reader_done = True
                        self._maybe_close()
                        return
                    if self._reading_paused:
                        self._reading_paused = False
                        transport.resume_reading()
                    return
                if op is YIELD:
                    if not self._reading_paused:
                        self._reading_paused = True
                        transport.pause_reading()
                    if not self._reader_waiting:
                        self._reader_waiting = True
                        conn.yield_reader(self._wake_reader)
                    return
                if op is CLOSE:
                    self._reader_done = True
                    self._start = self._end = 0
                    self._maybe_close()
                    return
                if op is UPGRADE:
                    if not self._reading_paused:
                        self._reading_paused = True
                        transport.pause_reading()
                    self._maybe_upgrade()
                    return
                raise StateError(f"unknown read operation {op!r}")
            except Exception as error:  # an application error escaping the connection
                conn.report_exn(error)
                self._fresh = False

    def _feed(self) -> None:
        """Show the unconsumed bytes to the connection."""
        self._in_callback = True
        try:
            start, end = self._start, self._end
            if self._eof:
                consumed = self.conn.read_eof(self._buf, start, end - start)
            else:
                consumed = self.conn.read(self._buf, start, end - start)
        finally:
            self._in_callback = False
        start += consumed
        if start == end:
            self._start = self._end = 0
        else:
            self._start = start

    def _drive_writer(self) -> None:
        conn = self.conn
        transport = self._transport
        if self._writer_done or transport is None:
            return
        while not self._write_paused:
            try:
                op = conn.next_write_operation()
                kind = type(op)
                if kind is Write:
                    iovecs = op.iovecs
                    payload = _payload(iovecs)
                    if len(payload) == 1:
                        transport.write(payload[0])
                    else:
                        transport.writelines(payload)
                    conn.report_write_result(sum(map(len, iovecs)))
                    continue
                if op is YIELD:
                    if not self._writer_waiting:
                        self._writer_waiting = True
                        conn.yield_writer(self._wake_writer)
                    return
                if kind is Closed:
                    self._writer_done = True
                    self._finish_writing()
                    return
                if op is UPGRADE:
                    self._maybe_upgrade()
                    return
                raise StateError(f"unknown write operation {op!r}")
            except Exception as error:
                conn.report_exn(error)

    # -- ending ----------------------------------------------------------------------

    def _finish_writing(self) -> None:
        transport = self._transport
        if transport is None:
            return
        if self._reader_done and self._eof:
            transport.close()
            return
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()
            return
        self._maybe_close()

    def _maybe_close(self) -> None:
        """Close once both sides are done; linger a little for the peer's EOF."""
        transport = self._transport
        if transport is None or not (self._reader_done and self._writer_done):
            return
        if self._eof:
            transport.close()
            return
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        if self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)

    def _maybe_upgrade(self) -> None:
        """Hand the transport over once the 101 is out and reading has stopped."""
        if self._upgraded or self.conn.next_write_operation() is not UPGRADE:
            return
        transport = self._transport
        if transport is None:
            return
        self._upgraded = self._reader_done = self._writer_done = True
        leftover = bytes(self._buf[self._start : self._end])
        self._start = self._end = 0
        on_upgrade = self.conn.upgrade_handler
        protocol = on_upgrade(transport, leftover)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if leftover:
            protocol.data_received(leftover)
        if self._reading_paused:
            transport.resume_reading()
        if not self._closed.done():
            self._closed.set_result(None)


class _ServerProtocol(_Driver):
    def __init__(
        self,
        handler: RequestHandler,
        error_handler: ErrorHandler | None,
        config: Config,
        connections: set[_ServerProtocol],
    ) -> None:
        super().__init__(config)
        self.conn = ServerConnection(handler, error_handler, config)
        self._connections = connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._connections.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """Finish what is in flight, then close."""
        self.conn.close_when_idle()
        self._drive()


def new_event_loop(use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """A uvloop loop when installed (unless ``use_uvloop=False``), else asyncio's."""
    if use_uvloop is not False:
        try:
            import uvloop
        except ImportError:
            if use_uvloop:
                raise
        else:
            return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


class Server:
    """A listening httpaf server: the ``asyncio.Server`` and its open connections."""

    def __init__(self, server: asyncio.AbstractServer, connections: set[_ServerProtocol]) -> None:
        #: The underlying ``asyncio`` server.
        self.server = server
        self._connections = connections

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets."""
        return tuple(self.server.sockets)  # type: ignore[attr-defined]

    @property
    def port(self) -> int:
        """The port of the first listening socket."""
        return int(self.sockets[0].getsockname()[1])

    @property
    def connection_count(self) -> int:
        """How many connections are open."""
        return len(self._connections)

    def close(self) -> None:
        """Stop accepting connections (open ones go on)."""
        self.server.close()

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish (up to ``timeout``), then close."""
        self.server.close()
        connections = list(self._connections)
        for protocol in connections:
            protocol.shutdown()
        waiters = [p._closed for p in connections]
        if waiters:
            await asyncio.wait(waiters, timeout=timeout)
        for protocol in list(self._connections):
            if protocol._transport is not None:
                protocol._transport.abort()
        await self.server.wait_closed()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()


async def serve(
    handler: RequestHandler,
    host: str | None = "127.0.0.1",
    port: int = 8080,
    *,
    config: Config | None = None,
    error_handler: ErrorHandler | None = None,
    reuse_port: bool = False,
    ssl: _ssl.SSLContext | None = None,
    backlog: int = 1024,
    sock: Any = None,
) -> Server:
    """Start serving ``handler`` (called with each :class:`~httpaf.Reqd`).

    ``port=0`` picks a free port (see :attr:`Server.port`); ``sock`` serves an
    already bound socket instead of ``host`` and ``port``.
    """
    config = config if config is not None else Config()
    connections: set[_ServerProtocol] = set()
    loop = asyncio.get_running_loop()

    def factory() -> _ServerProtocol:
        return _ServerProtocol(handler, error_handler, config, connections)

    if sock is not None:
        server = await loop.create_server(factory, sock=sock, ssl=ssl, backlog=backlog)
    else:
        server = await loop.create_server(
            factory, host, port, reuse_port=reuse_port or None, ssl=ssl, backlog=backlog
        )
    return Server(server, connections)


async def shutdown(server: Server, timeout: float = 10.0) -> None:
    """``server.shutdown(timeout)``: graceful stop."""
    await server.shutdown(timeout)


def run(
    handler: RequestHandler,
    host: str | None = "127.0.0.1",
    port: int = 8080,
    *,
    use_uvloop: bool | None = None,
    ready: Callable[[Server], None] | None = None,
    **kwargs: Any,
) -> None:
    """Serve ``handler`` until SIGINT or SIGTERM, then shut down gracefully."""
    loop = new_event_loop(use_uvloop)
    try:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            server = await serve(handler, host, port, **kwargs)
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            if ready is not None:
                ready(server)
            await stop.wait()
            await shutdown(server)

        loop.run_until_complete(main())
    finally:
        loop.close()


# -- client -----------------------------------------------------------------------


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


class _ClientProtocol(_Driver):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.conn = ClientConnection(config)

    def _maybe_close(self) -> None:
        transport = self._transport
        if transport is not None and self._reader_done and self._writer_done:
            transport.close()

    def _finish_writing(self) -> None:
        self._maybe_close()


class Client:
    """A keep-alive, pipelining HTTP/1.1 client connection."""

    def __init__(self, protocol: _ClientProtocol, host: str) -> None:
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

        protocol._in_callback = True
        try:
            writer = protocol.conn.request(Request(method, target, fields), on_response, on_error)
            if body:
                writer.write(body)
            writer.close()
        finally:
            protocol._in_callback = False
        protocol._fresh = True
        protocol._after_callback()
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
        await protocol._closed

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
    _, protocol = await loop.create_connection(lambda: _ClientProtocol(config), host, port, ssl=ssl)
    return Client(protocol, host if port == 80 else f"{host}:{port}")
