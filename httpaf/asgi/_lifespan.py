"""The application's ``lifespan`` scope: startup before serving, shutdown after."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from httpaf._logs import error_logger, escape

from ._types import ASGIApp, LifespanFailure, Message

__all__ = ["Lifespan"]


class Lifespan:
    """Runs the application's ``lifespan`` scope: startup before serving, shutdown after."""

    def __init__(
        self,
        app: ASGIApp,
        mode: Literal["auto", "on", "off"],
        state: dict[str, Any],
        logger: logging.Logger = error_logger,
    ) -> None:
        self.app = app
        self.mode = mode
        self.state = state
        self.logger = logger
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._startup: asyncio.Future[str] | None = None
        self._shutdown: asyncio.Future[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = False  # the application took part in startup

    async def startup(self) -> None:
        """Run startup; raise :class:`LifespanFailure` if it failed."""
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self._startup = loop.create_future()
        self._shutdown = loop.create_future()
        self._task = loop.create_task(self._main())
        self._events.put_nowait({"type": "lifespan.startup"})
        outcome = await self._startup
        if outcome == "complete":
            self._running = True
            return
        if outcome == "unsupported":
            return
        raise LifespanFailure(f"application startup failed: {outcome}")

    async def shutdown(self) -> None:
        """Run shutdown (when startup ran), and wait for the lifespan call to end."""
        if not self._running or self._shutdown is None:
            return
        self._running = False
        self._events.put_nowait({"type": "lifespan.shutdown"})
        outcome = await self._shutdown
        if outcome not in ("complete", "unsupported"):
            self.logger.error("Application shutdown failed: %s", outcome)
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            startup = self._startup
            if startup is not None and not startup.done():
                if self.mode == "auto":
                    self.logger.info("ASGI 'lifespan' protocol appears unsupported.")
                    startup.set_result("unsupported")
                else:
                    self.logger.error("Exception in 'lifespan' protocol\n", exc_info=exc)
                    startup.set_result(f"{type(exc).__name__}: {exc}")
            else:
                self.logger.error("Exception in 'lifespan' protocol\n", exc_info=exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            for future in (self._startup, self._shutdown):
                if future is not None and not future.done():
                    future.set_result("unsupported" if future is self._startup else "complete")

    async def _receive(self) -> Message:
        return await self._events.get()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        startup, shutdown = self._startup, self._shutdown
        if kind == "lifespan.startup.complete" and startup and not startup.done():
            startup.set_result("complete")
        elif kind == "lifespan.startup.failed" and startup and not startup.done():
            text = message.get("message", "")
            self.logger.error("Application startup failed. %s", escape(str(text)))
            startup.set_result(str(text) or "lifespan.startup.failed")
        elif kind == "lifespan.shutdown.complete" and shutdown and not shutdown.done():
            shutdown.set_result("complete")
        elif kind == "lifespan.shutdown.failed" and shutdown and not shutdown.done():
            shutdown.set_result(str(message.get("message", "")) or "lifespan.shutdown.failed")
        else:
            raise RuntimeError(f"unexpected lifespan message {kind!r}")
