"""Serving a WSGI application: :func:`serve`, :func:`run`, :class:`WSGIServer`."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl as _ssl
from collections.abc import Callable, Iterable
from typing import Any

from httpaf.aio import Server, run_until_signal
from httpaf.connection import ErrorHandler
from httpaf.model import Config

from ._pool import ThreadPool
from ._protocol import WSGIProtocol
from ._state import AppState
from ._types import WSGIApp

_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))

__all__ = ["WSGIServer", "run", "serve"]


class WSGIServer(Server):
    """A listening WSGI server: an :class:`httpaf.asyncio.Server` with its thread pool."""

    def __init__(
        self,
        server: asyncio.AbstractServer,
        connections: set[Any],
        pool: ThreadPool,
        shutdown_timeout: float | None = 10.0,
    ) -> None:
        super().__init__(server, connections, shutdown_timeout=shutdown_timeout)
        self._pool = pool

    async def shutdown(self, timeout: float | None = -1.0) -> None:
        """Stop accepting, let in-flight requests finish (up to ``timeout`` seconds;
        by default :attr:`shutdown_timeout`), then close and stop the threads."""
        try:
            await super().shutdown(timeout)
        finally:
            self._pool.shutdown()


async def serve(
    app: WSGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    config: Config | None = None,
    threads: int = 10,
    root_path: str = "",
    proxy_headers: bool = True,
    forwarded_allow_ips: str | Iterable[str] | None = None,
    access_log: bool = True,
    limit_concurrency: int | None = None,
    multiprocess: bool = False,
    header_underscores: str = "refuse",
    server_header: bool = True,
    date_header: bool = True,
    headers: Iterable[tuple[str, str]] = (),
    error_handler: ErrorHandler | None = None,
    reuse_port: bool = False,
    ssl: _ssl.SSLContext | None = None,
    backlog: int = 1024,
    sock: socket.socket | None = None,
    uds: str | None = None,
    timeout_graceful_shutdown: float | None = 10.0,
    **config_options: Any,
) -> WSGIServer:
    """Start serving the WSGI application ``app``; return the listening server.

    ``threads`` bounds the application calls running at once; ``root_path`` becomes
    ``SCRIPT_NAME`` (and is removed from the front of ``PATH_INFO``);
    ``X-Forwarded-For``/``-Proto`` are believed from ``forwarded_allow_ips`` (a
    comma-separated string or a list of addresses or networks, ``"*"`` for all; by
    default ``$FORWARDED_ALLOW_IPS`` or ``127.0.0.1``) when ``proxy_headers`` is on;
    over ``limit_concurrency`` requests in progress, new ones get a 503. A request
    field name with an underscore is answered with 400 (``header_underscores=
    "refuse"``) or left out (``"drop"``), never mapped to the ``HTTP_*`` key of a
    dashed name. ``headers`` are ``(name, value)`` fields added to every response
    (after ``Date`` and ``Server``). ``sock`` serves an already bound socket, ``uds``
    a Unix socket path.
    :meth:`WSGIServer.shutdown` gives in-flight requests ``timeout_graceful_shutdown``
    seconds by default. Limits and timeouts (keep-alive, head, body) come from
    ``config``; any :class:`~httpaf.Config` field given as an option
    (``keep_alive_timeout=2``) is applied over it.
    """
    config = config if config is not None else Config()
    unknown = set(config_options) - _CONFIG_FIELDS
    if unknown:
        raise TypeError(f"httpaf.wsgi.serve: unknown options {sorted(unknown)}")
    if not date_header:
        config_options["date_header"] = False  # (the runtime adds Date: Config)
    if config_options:
        config = dataclasses.replace(config, **config_options)
    loop = asyncio.get_running_loop()
    pool = ThreadPool(threads)
    state = AppState(
        app,
        loop,
        pool,
        root_path=root_path,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=access_log,
        limit_concurrency=limit_concurrency,
        multiprocess=multiprocess,
        header_underscores=header_underscores,
        server_header=server_header,
        headers=headers,
    )
    connections: set[Any] = set()

    def factory() -> WSGIProtocol:
        return WSGIProtocol(state, error_handler, config, connections)

    if sock is not None:
        server = await loop.create_server(factory, sock=sock, ssl=ssl, backlog=backlog)
    elif uds is not None:
        server = await loop.create_unix_server(factory, uds, ssl=ssl, backlog=backlog)
    else:
        server = await loop.create_server(
            factory, host, port, reuse_port=reuse_port or None, ssl=ssl, backlog=backlog
        )
    return WSGIServer(server, connections, pool, timeout_graceful_shutdown)


def run(
    app: WSGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    use_uvloop: bool | None = None,
    ready: Callable[[WSGIServer], None] | None = None,
    **options: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully.

    ``options`` are those of :func:`serve` (``timeout_graceful_shutdown`` included);
    ``ready(server)`` is called once listening.
    """
    run_until_signal(
        lambda: serve(app, host, port, **options),
        use_uvloop,
        ready,
    )
