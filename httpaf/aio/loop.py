"""Event loops and the serve-until-a-signal loop of the asyncio runtime."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl as _ssl
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["listen", "new_event_loop", "run_until_signal"]


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


async def listen(
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


def run_until_signal(
    start: Callable[[], Awaitable[Any]],
    use_uvloop: bool | None,
    ready: Callable[[Any], None] | None,
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
