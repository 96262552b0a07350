"""The asyncio runtime: serve a request handler, or make requests, over sockets.

The runtime owns each connection's read buffer (``asyncio.BufferedProtocol``, so the
loop reads straight into it), presents unconsumed bytes again with new ones, grows the
buffer up to ``Config.max_head_size`` for large heads, pauses reading while the
connection yields, and waits for ``resume_writing`` when the transport's buffer is
full. uvloop is used when installed unless ``use_uvloop=False``.

Timers live here, not in the state machine (which reads no clock): a server
connection that waits for its peer is closed after ``Config.keep_alive_timeout``
when idle (before its first request too), answered ``408 Request Timeout`` when a
request head takes longer than ``Config.head_timeout``, and closed when a handler
waits longer than ``Config.body_timeout`` for a byte of request body. Deadlines are
checked lazily by one clock per loop (:class:`_Clock`): a connection holds no timer
handle of its own, and a busy one does not pay a timer per request.

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

from ._driver import Driver, ServerDriver, _Clock  # noqa: F401  (_Clock: for the tests)
from .body import BodyReader
from .client_connection import ClientConnection
from .config import Config
from .headers import Headers
from .message import Request, Response
from .reqd import ErrorHandler
from .server_connection import RequestHandler

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


# The connection drivers (compiled when built) become asyncio protocols here: a
# compiled class cannot have ``asyncio.BufferedProtocol`` as a base.
class _ServerProtocol(ServerDriver, asyncio.BufferedProtocol):
    """A server connection: the driver plus idle, head and body timers."""

    __slots__ = ()


def new_event_loop(use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """A uvloop loop when installed (unless ``use_uvloop=False``), else asyncio's."""
    if use_uvloop is not False:
        try:
            import uvloop
        except ImportError:
            if use_uvloop:
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class Server:
    """A listening httpaf server: the ``asyncio.Server``, its connections and tasks.

    ``tasks`` holds work that a graceful shutdown waits for besides the connections
    (an ASGI server's application calls); ``on_shutdown`` coroutine functions run once
    everything is closed (an ASGI lifespan's shutdown).
    """

    def __init__(
        self,
        server: asyncio.AbstractServer,
        connections: set[Any],
        *,
        tasks: set[asyncio.Task[Any]] | None = None,
        on_shutdown: Iterable[Callable[[], Awaitable[object]]] = (),
        shutdown_timeout: float | None = 10.0,
    ) -> None:
        #: The underlying ``asyncio`` server.
        self.server = server
        self._connections = connections
        self._tasks = tasks if tasks is not None else set()
        self._on_shutdown = list(on_shutdown)
        #: Default of :meth:`shutdown`'s ``timeout`` (``None``: wait as long as it takes).
        self.shutdown_timeout = shutdown_timeout
        self._shut_down = False

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

    async def shutdown(self, timeout: float | None = -1.0) -> None:
        """Stop accepting, let in-flight requests finish, then close everything.

        Idle connections close at once; the others after their current response.
        Whatever is still open after ``timeout`` seconds (default:
        :attr:`shutdown_timeout`; ``None``: no limit) is cancelled and aborted. Then
        the ``on_shutdown`` callbacks run.
        """
        if self._shut_down:
            return
        self._shut_down = True
        if timeout is not None and timeout < 0:
            timeout = self.shutdown_timeout
        self.server.close()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        for protocol in list(self._connections):
            protocol.shutdown()
        waiters = [p.wait_closed() for p in list(self._connections)]
        if waiters:
            await asyncio.wait(waiters, timeout=timeout)
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            await asyncio.wait(tasks, timeout=left)
        for task in list(self._tasks):
            task.cancel()
        for protocol in list(self._connections):
            transport = protocol._transport
            if transport is not None:
                abort = getattr(transport, "abort", None)
                (abort or transport.close)()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.server.wait_closed(), 5)
        for callback in self._on_shutdown:
            await callback()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()


async def _listen(
    factory: Callable[[], asyncio.BaseProtocol],
    host: str | None,
    port: int,
    *,
    reuse_port: bool = False,
    ssl: _ssl.SSLContext | None = None,
    backlog: int = 1024,
    sock: Any = None,
) -> asyncio.AbstractServer:
    """``loop.create_server`` on ``host:port``, or on an already bound ``sock``."""
    loop = asyncio.get_running_loop()
    if sock is not None:
        return await loop.create_server(factory, sock=sock, ssl=ssl, backlog=backlog)
    return await loop.create_server(
        factory, host, port, reuse_port=reuse_port or None, ssl=ssl, backlog=backlog
    )


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
    already bound socket instead of ``host`` and ``port``. Limits and timeouts come
    from ``config``.
    """
    config = config if config is not None else Config()
    connections: set[_ServerProtocol] = set()
    loop = asyncio.get_running_loop()

    def factory() -> _ServerProtocol:
        return _ServerProtocol(handler, error_handler, config, connections, loop)

    server = await _listen(
        factory, host, port, reuse_port=reuse_port, ssl=ssl, backlog=backlog, sock=sock
    )
    return Server(server, connections)


async def shutdown(server: Server, timeout: float | None = -1.0) -> None:
    """``server.shutdown(timeout)``: graceful stop."""
    await server.shutdown(timeout)


def _run_until_signal(
    start: Callable[[], Awaitable[Server]],
    use_uvloop: bool | None,
    ready: Callable[[Server], None] | None,
) -> None:
    """Run ``start()`` on a new loop, wait for SIGINT or SIGTERM, shut down gracefully."""
    loop = new_event_loop(use_uvloop)
    try:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            server = await start()
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, stop.set)
            try:
                if ready is not None:
                    ready(server)
                await stop.wait()
            finally:
                await server.shutdown()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                        loop.remove_signal_handler(sig)

        loop.run_until_complete(main())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def run(
    handler: RequestHandler,
    host: str | None = "127.0.0.1",
    port: int = 8080,
    *,
    use_uvloop: bool | None = None,
    ready: Callable[[Server], None] | None = None,
    **kwargs: Any,
) -> None:
    """Serve ``handler`` until SIGINT or SIGTERM, then shut down gracefully.

    ``kwargs`` go to :func:`serve`; ``ready(server)`` is called once listening.
    """
    _run_until_signal(lambda: serve(handler, host, port, **kwargs), use_uvloop, ready)


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


class _ClientProtocol(Driver, asyncio.BufferedProtocol):
    __slots__ = ()

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
    _, protocol = await loop.create_connection(lambda: _ClientProtocol(config), host, port, ssl=ssl)
    return Client(protocol, host if port == 80 else f"{host}:{port}")
