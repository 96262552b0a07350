"""Serving an ASGI application: :func:`serve` and :func:`run`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from typing import Any

from httpaf.aio import Server, listen, run_until_signal
from httpaf.model import Config

from ._lifespan import Lifespan
from ._protocol import ASGIProtocol
from ._settings import Settings
from ._types import ASGIApp

__all__ = ["run", "serve"]

_LISTEN_OPTIONS = frozenset({"reuse_port", "ssl", "backlog", "sock"})
_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))


async def serve(
    app: ASGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    config: Config | None = None,
    **options: Any,
) -> Server:
    """Run the lifespan startup of ``app``, then serve it on ``host:port``.

    Returns the :class:`httpaf.asyncio.Server`; its ``shutdown()`` stops accepting,
    lets in-flight requests finish (up to ``timeout_graceful_shutdown``), cancels
    what is left, then runs the lifespan shutdown. ``port=0`` picks a free port.

    Options:

    - ``root_path`` (``""``): the mount point, prefixed to ``path`` and ``raw_path``.
    - ``proxy_headers`` (``True``) and ``forwarded_allow_ips`` (the environment's
      ``FORWARDED_ALLOW_IPS``, else ``"127.0.0.1"``; a comma-separated string or a
      list of addresses and networks, ``"*"`` for all): a peer in that list may set
      the client address (``X-Forwarded-For``) and scheme (``X-Forwarded-Proto``).
    - ``lifespan`` (``"auto"``): ``"on"`` makes a lifespan error fatal, ``"off"``
      skips it, ``"auto"`` runs it if the application supports it.
    - ``access_log`` (``True``): a line per response on the ``httpaf.access`` logger
      (INFO), control characters escaped. Errors go to ``httpaf.error``.
    - ``limit_concurrency`` (``None``): beyond this many running requests (or open
      connections) requests are answered ``503 Service Unavailable``.
    - ``timeout_graceful_shutdown`` (``30.0``; ``None``: no limit): seconds
      ``shutdown()`` waits for in-flight requests.
    - ``server_header`` / ``date_header`` (``True``): send ``Server: httpaf`` and a
      ``Date`` (``Config.date_header``) in responses without one; ``headers``: more
      ``(name, value)`` fields for every response.
    - ``reset_contextvars`` (``False``): run each request in an empty context.
    - WebSocket, with uvicorn's names and defaults: ``ws`` (``"auto"``; ``"none"``
      serves no WebSocket, uvicorn's other values ``"websockets"``,
      ``"websockets-sansio"``, ``"wsproto"`` are all served by httpaf's),
      ``ws_max_size`` (``16777216``: larger messages close with 1009),
      ``ws_max_queue`` (``32`` messages before reading pauses), ``ws_ping_interval``
      and ``ws_ping_timeout`` (``20.0`` s; ``None``: no keep-alive ping, or no
      limit on its pong: a late one closes with 1011), ``ws_per_message_deflate``
      (``True``).
    - ``ssl``, ``reuse_port``, ``backlog``, ``sock``: how to listen.
    - any :class:`~httpaf.Config` field (``keep_alive_timeout``, ``head_timeout``,
      ``body_timeout``, ``max_body_size``, ...), applied over ``config``.
    """
    config = config if config is not None else Config()
    config_changes = {k: options.pop(k) for k in list(options) if k in _CONFIG_FIELDS}
    if config_changes:
        config = dataclasses.replace(config, **config_changes)
    listening = {k: options.pop(k) for k in list(options) if k in _LISTEN_OPTIONS}
    lifespan_mode = options.pop("lifespan", "auto")
    if lifespan_mode not in ("auto", "on", "off"):
        raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan_mode!r}")
    timeout = options.pop("timeout_graceful_shutdown", 30.0)
    options.setdefault("proxy_headers", True)
    if "forwarded_allow_ips" not in options or options["forwarded_allow_ips"] is None:
        options["forwarded_allow_ips"] = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    limit = options.get("limit_concurrency")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit_concurrency must be a positive int or None, not {limit!r}")
    state: dict[str, Any] = {}
    try:
        settings = Settings(app, config, state=state, **options)
    except TypeError as error:
        raise TypeError(f"httpaf.asgi.serve: {error}") from None

    lifespan = Lifespan(app, lifespan_mode, state)
    await lifespan.startup()
    loop = asyncio.get_running_loop()
    try:
        server = await listen(lambda: ASGIProtocol(settings, loop), host, port, **listening)
    except BaseException:
        await lifespan.shutdown()
        raise
    return Server(
        server,
        settings.connections,
        tasks=settings.tasks,
        on_shutdown=[lifespan.shutdown],
        shutdown_timeout=timeout,
    )


def run(
    app: ASGIApp,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    *,
    use_uvloop: bool | None = None,
    ready: Callable[[Server], None] | None = None,
    **options: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully.

    Stops accepting, finishes in-flight requests within ``timeout_graceful_shutdown``
    seconds, then runs the lifespan shutdown. ``options`` are :func:`serve`'s;
    ``use_uvloop=None`` uses uvloop when it is installed; ``ready(server)`` is called
    once listening.
    """
    run_until_signal(lambda: serve(app, host, port, **options), use_uvloop, ready)
