"""One serving process: load the application, serve it until told to stop.

A process stops gracefully on SIGINT or SIGTERM, and after ``limit_max_requests``
requests (plus its jitter). Under a supervisor it answers health checks on a socket
from a thread of its own: a byte in, ``b"1"`` back once the server is listening,
``b"0"`` before.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import ssl
import threading
from typing import Any

from httpaf import implementation
from httpaf.model import Config

from ._app import AppLoadError, Loaded, count_requests, resolve_app
from ._options import Options
from ._tls import make_ssl_context

__all__ = ["BOOT_ERROR", "make_loop", "serve_in_process", "serve_options", "start_server"]

logger = logging.getLogger("httpaf.cli")

#: Exit status of a worker that could not start (its application failed to load).
BOOT_ERROR = 3


async def start_server(
    app: Any,
    interface: str,
    *,
    sock: socket.socket,
    config: Config,
    ssl_context: ssl.SSLContext | None = None,
    root_path: str = "",
    proxy_headers: bool = True,
    forwarded_allow_ips: Any = None,
    access_log: bool = True,
    limit_concurrency: int | None = None,
    lifespan: str = "auto",
    threads: int = 10,
    multiprocess: bool = False,
    **extra: Any,
) -> Any:
    """Serve ``app`` on ``sock`` through :mod:`httpaf.asgi` or :mod:`httpaf.wsgi`.

    Returns the server (an :class:`httpaf.asyncio.Server`); ``extra`` goes to the
    interface's ``serve``.
    """
    common: dict[str, Any] = {
        "config": config,
        "sock": sock,
        "ssl": ssl_context,
        "root_path": root_path,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "access_log": access_log,
        "limit_concurrency": limit_concurrency,
        **extra,
    }
    if interface == "asgi":
        from httpaf import asgi

        return await asgi.serve(app, None, 0, lifespan=lifespan, **common)
    if interface == "wsgi":
        from httpaf import wsgi

        return await wsgi.serve(app, None, 0, threads=threads, multiprocess=multiprocess, **common)
    raise ValueError(f"unknown interface {interface!r}")


def serve_options(options: Options, loaded: Loaded, *, multiprocess: bool) -> dict[str, Any]:
    """:func:`start_server`'s keyword arguments (but ``sock``) for ``options``."""
    headers = options.header_pairs()
    kwargs: dict[str, Any] = {
        "root_path": options.root_path,
        "proxy_headers": options.proxy_headers,
        "forwarded_allow_ips": options.trusted_proxies(),
        "access_log": options.access_log,
        "limit_concurrency": options.limit_concurrency,
        # A Server field given with --header replaces httpaf's (as in uvicorn).
        "server_header": options.server_header
        and not any(name.lower() == "server" for name, _ in headers),
        "date_header": options.date_header,
        "headers": headers,
        **loaded.extra,
    }
    if loaded.interface == "asgi":
        kwargs["lifespan"] = options.lifespan
        kwargs["reset_contextvars"] = options.reset_contextvars
        kwargs.update(options.ws_options())
    else:
        kwargs["threads"] = options.threads
        kwargs["multiprocess"] = multiprocess
    return kwargs


def make_loop(choice: str) -> asyncio.AbstractEventLoop:
    """The event loop ``--loop`` names: ``auto`` (uvloop when installed), ``asyncio``,
    ``uvloop``, ``none`` (the event loop policy's) or ``module:factory``."""
    from httpaf.aio import new_event_loop

    if choice in ("auto", "zuvloop"):  # (zuvloop: a notice said uvloop is used instead)
        return new_event_loop(None)
    if choice == "asyncio":
        return new_event_loop(False)
    if choice == "uvloop":
        try:
            return new_event_loop(True)
        except ImportError:
            raise AppLoadError("--loop uvloop: uvloop is not installed") from None
    if choice == "none":
        return asyncio.new_event_loop()
    module_name, _, attr = choice.partition(":")
    try:
        factory: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            factory = getattr(factory, part)
    except (ImportError, AttributeError) as error:
        raise AppLoadError(f"--loop {choice}: {error}") from None
    loop = factory()
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise AppLoadError(f"--loop {choice} did not return an event loop")
    return loop


class _State:
    """What the health-check thread reads: whether the server is listening."""

    started = False


def _answer_health_checks(conn: socket.socket, state: _State) -> None:
    conn.setblocking(True)
    while True:
        try:
            if not conn.recv(64):
                return  # the supervisor is gone
            conn.sendall(b"1" if state.started else b"0")
        except OSError:
            return


def serve_in_process(
    options: Options,
    sock: socket.socket,
    *,
    announce: str | None,
    multiprocess: bool,
    health: socket.socket | None = None,
) -> int:
    """Load the application and serve it on ``sock`` until SIGINT/SIGTERM (or the
    request limit); the exit status (:data:`BOOT_ERROR` if it could not start)."""
    state = _State()
    if health is not None:
        threading.Thread(
            target=_answer_health_checks, args=(health, state), daemon=True, name="health"
        ).start()
    try:
        loaded = resolve_app(
            options.app,
            interface=options.interface,
            factory=options.factory,
            app_dir=options.app_dir,
        )
        config = options.make_config()
        ssl_context = make_ssl_context(options)
        kwargs = serve_options(options, loaded, multiprocess=multiprocess)
        loop = make_loop(options.loop)
    except (AppLoadError, ValueError, OSError, ssl.SSLError, TypeError) as error:
        logger.error("%s", error)
        return BOOT_ERROR
    except Exception:
        logger.exception("could not load %s", options.app)
        return BOOT_ERROR
    asyncio.set_event_loop(loop)

    async def main() -> None:
        stop = asyncio.Event()
        app = loaded.app
        limit = options.request_limit()
        if limit is not None:
            count = 0

            def counted() -> None:
                nonlocal count
                count += 1
                if count == limit:
                    logger.info("Maximum request limit of %d exceeded. Terminating process.", limit)
                    stop.set()

            if loaded.interface == "asgi":
                app = count_requests(app, "asgi", counted)
            else:  # (called in a worker thread)

                def counted_from_thread() -> None:
                    loop.call_soon_threadsafe(counted)

                app = count_requests(app, "wsgi", counted_from_thread)
        try:
            server = await start_server(
                app, loaded.interface, sock=sock, config=config, ssl_context=ssl_context, **kwargs
            )
        except TypeError as error:
            ws = options.ws_options()
            named = [k for k in ws if k in str(error)]
            if not named:
                raise
            if ws != {"ws": "none"}:
                raise AppLoadError(
                    f"--{named[0].replace('_', '-')}: this httpaf's ASGI server has no "
                    "WebSocket support to configure"
                ) from None
            # --ws none asks for no WebSocket support: what a server without it gives.
            del kwargs["ws"]
            server = await start_server(
                app, loaded.interface, sock=sock, config=config, ssl_context=ssl_context, **kwargs
            )
        state.started = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop_name = type(loop).__module__.split(".")[0]
        interface = loaded.interface
        logger.info("worker %d serving %s (%s, %s)", os.getpid(), options.app, interface, loop_name)
        if announce is not None:
            print(
                f"httpaf ({implementation}) serving on {announce} ({interface.upper()}, "
                f"{loop_name})",
                flush=True,
            )
        await stop.wait()
        logger.info("worker %d shutting down", os.getpid())
        await server.shutdown(options.timeout_graceful_shutdown)

    try:
        loop.run_until_complete(main())
    except AppLoadError as error:
        logger.error("%s", error)
        return BOOT_ERROR
    except Exception:
        logger.exception("server error")
        return 1 if state.started else BOOT_ERROR
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
    return 0
