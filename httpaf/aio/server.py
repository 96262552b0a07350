"""Serving a native request handler over asyncio: :func:`serve`, :func:`run`, :class:`Server`.

The runtime owns each connection's read buffer (``asyncio.BufferedProtocol``, so the
loop reads straight into it), presents unconsumed bytes again with new ones, grows the
buffer up to ``Config.max_head_size`` for large heads, pauses reading while the
connection yields, and waits for ``resume_writing`` when the transport's buffer is
full. uvloop is used when installed unless ``use_uvloop=False``.

Timers live in the runtime, not in the state machine (which reads no clock): a server
connection that waits for its peer is closed after ``Config.keep_alive_timeout``
when idle (before its first request too), answered ``408 Request Timeout`` when a
request head takes longer than ``Config.head_timeout``, and closed when a handler
waits longer than ``Config.body_timeout`` for a byte of request body. Deadlines are
checked lazily by one clock per loop (``driver.Clock``): a connection holds no timer
handle of its own, and a busy one does not pay a timer per request.

Upgrades: a handler's ``respond_with_upgrade(response, on_upgrade)`` gets, once the
101 is written, ``on_upgrade(transport, leftover)`` called with the transport and the
bytes read after the request; it returns the ``asyncio.Protocol`` that takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as _ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from httpaf.connection import ErrorHandler, RequestHandler
from httpaf.model import Config

from .loop import listen, run_until_signal
from .protocols import ServerProtocol

__all__ = ["Server", "run", "serve", "shutdown"]


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
            # An HTTP connection's driver, or a WebSocket (whose transport is public).
            transport = getattr(protocol, "_transport", None) or getattr(
                protocol, "transport", None
            )
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
    connections: set[ServerProtocol] = set()
    loop = asyncio.get_running_loop()

    def factory() -> ServerProtocol:
        return ServerProtocol(handler, error_handler, config, connections, loop)

    server = await listen(
        factory, host, port, reuse_port=reuse_port, ssl=ssl, backlog=backlog, sock=sock
    )
    return Server(server, connections)


async def shutdown(server: Server, timeout: float | None = -1.0) -> None:
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
    """Serve ``handler`` until SIGINT or SIGTERM, then shut down gracefully.

    ``kwargs`` go to :func:`serve`; ``ready(server)`` is called once listening.
    """
    run_until_signal(lambda: serve(handler, host, port, **kwargs), use_uvloop, ready)
