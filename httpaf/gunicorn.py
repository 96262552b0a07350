"""A gunicorn worker class: ``gunicorn -k httpaf.gunicorn.HttpafWorker module:app``.

Each worker process runs httpaf's asyncio runtime (uvloop when installed, or as
gunicorn's ``--asgi-loop`` says) on the sockets gunicorn bound. An application whose
``__call__`` is a coroutine function is served as ASGI (:mod:`httpaf.asgi`), any other
as WSGI (:mod:`httpaf.wsgi`, on ``--threads`` threads, 10 when left at gunicorn's
default of 1); :class:`HttpafASGIWorker` and :class:`HttpafWSGIWorker` force one.

gunicorn's settings map onto httpaf's: ``--keepalive``, ``--graceful-timeout``,
``--max-requests`` (with jitter), ``--limit-request-line``/``-fields``/``-field-size``
(onto :class:`httpaf.Config`), ``--forwarded-allow-ips``, ``--root-path``,
``--header-map`` (``refuse`` or ``drop``; never mapped), ``--asgi-lifespan``, TLS
options, and ``--access-logfile`` (httpaf's access lines go to gunicorn's access log).
SIGTERM stops gracefully (in-flight requests finish within ``--graceful-timeout``);
SIGINT and SIGQUIT stop at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from httpaf.aio import new_event_loop
from httpaf.cli import count_requests, detect_interface, start_server
from httpaf.model import Config

__all__ = ["HttpafWorker", "HttpafASGIWorker", "HttpafWSGIWorker"]

#: WSGI threads when gunicorn's ``--threads`` is left at its default of 1.
DEFAULT_THREADS = 10


class HttpafWorker(Worker):  # type: ignore[misc]
    """A native gunicorn worker serving ASGI or WSGI applications with httpaf."""

    #: ``"auto"`` (detect), ``"asgi"`` or ``"wsgi"``.
    INTERFACE = "auto"
    #: Extra keyword arguments for the interface's ``serve`` (subclasses may set them).
    CONFIG_KWARGS: dict[str, Any] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.servers: list[Any] = []
        self._stop: asyncio.Event | None = None
        self._quick = False

    # -- process setup ---------------------------------------------------------------

    def init_process(self) -> None:
        """Make the event loop, then let gunicorn load the app and call :meth:`run`."""
        choice = getattr(self.cfg, "asgi_loop", "auto")
        use_uvloop = {"uvloop": True, "asyncio": False}.get(choice)
        try:
            self.loop = new_event_loop(use_uvloop)
        except ImportError:
            self.log.warning("uvloop is not installed: using asyncio's loop")
            self.loop = new_event_loop(False)
        asyncio.set_event_loop(self.loop)
        self._stop = asyncio.Event()
        self._route_logs()
        super().init_process()

    def _route_logs(self) -> None:
        """httpaf's logs go to gunicorn's error log, access lines to its access log."""
        error_log = getattr(self.log, "error_log", None)
        if error_log is not None:
            logger = logging.getLogger("httpaf")
            logger.handlers = list(error_log.handlers)
            logger.setLevel(error_log.level)
            logger.propagate = False
        access = logging.getLogger("httpaf.access")
        access_log = getattr(self.log, "access_log", None)
        if self.cfg.accesslog and access_log is not None:
            access.handlers = list(access_log.handlers)
            access.setLevel(logging.INFO)
        access.propagate = False

    def init_signals(self) -> None:
        """SIGTERM: graceful stop; SIGINT/SIGQUIT: quick stop; through the loop."""
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        loop = self.loop
        if loop is None:  # pragma: no cover - init_process makes it first
            raise RuntimeError("the event loop must exist before the signals are set")
        loop.add_signal_handler(signal.SIGTERM, self._graceful_stop)
        loop.add_signal_handler(signal.SIGINT, self._quick_stop)
        loop.add_signal_handler(signal.SIGQUIT, self._quick_stop)
        loop.add_signal_handler(signal.SIGUSR1, self.log.reopen_files)
        loop.add_signal_handler(signal.SIGWINCH, lambda: None)
        loop.add_signal_handler(signal.SIGABRT, self._abort)

    def _graceful_stop(self) -> None:
        self.alive = False
        if self._stop is not None:
            self._stop.set()

    def _quick_stop(self) -> None:
        if not self._quick:
            self._quick = True
            self.cfg.worker_int(self)
        self._graceful_stop()

    def _abort(self) -> None:
        self.alive = False
        self.cfg.worker_abort(self)
        sys.exit(1)

    # -- settings --------------------------------------------------------------------

    def httpaf_config(self) -> Config:
        """gunicorn's request limits as a :class:`httpaf.Config` (0 means the largest)."""
        cfg = self.cfg
        defaults = Config()
        head = defaults.max_head_size
        line = cfg.limit_request_line or head
        field = cfg.limit_request_field_size or head
        changes: dict[str, Any] = {
            "max_request_line": line,
            "max_field_size": field,
            "max_headers": cfg.limit_request_fields or defaults.max_headers,
            "max_head_size": max(head, line, field),
        }
        if "keep_alive_timeout" in Config.__dataclass_fields__:
            # gunicorn's 0 turns keep-alive off: close idle connections at once.
            changes["keep_alive_timeout"] = cfg.keepalive if cfg.keepalive > 0 else 0.001
        return dataclasses.replace(defaults, **changes)

    def serve_options(self, interface: str) -> dict[str, Any]:
        """Keyword arguments for ``start_server`` from gunicorn's settings."""
        cfg = self.cfg
        allow = cfg.forwarded_allow_ips
        options: dict[str, Any] = {
            "config": self.httpaf_config(),
            "root_path": getattr(cfg, "root_path", "") or os.environ.get("SCRIPT_NAME", ""),
            "proxy_headers": True,
            "forwarded_allow_ips": ",".join(allow) if isinstance(allow, list) else allow,
            "access_log": bool(cfg.accesslog),
            "timeout_graceful_shutdown": cfg.graceful_timeout,
        }
        if cfg.is_ssl:
            from gunicorn import sock as gunicorn_sock

            options["ssl_context"] = gunicorn_sock.ssl_context(cfg)
        if interface == "asgi":
            options["lifespan"] = getattr(cfg, "asgi_lifespan", "auto")
        else:
            options["threads"] = cfg.threads if cfg.threads > 1 else DEFAULT_THREADS
            options["multiprocess"] = cfg.workers > 1
            options["header_underscores"] = (
                "refuse" if getattr(cfg, "header_map", "drop") == "refuse" else "drop"
            )
        options.update(self.CONFIG_KWARGS)
        return options

    def _counted(self, app: Any, interface: str) -> Any:
        """``app``, counting requests for ``--max-requests`` (when set)."""
        if self.max_requests >= sys.maxsize:
            return app
        loop = self.loop
        worker = self

        def count() -> None:
            worker.nr += 1
            if worker.nr >= worker.max_requests and worker.alive:
                worker.log.info("Autorestarting worker after current request.")
                worker._graceful_stop()

        if interface == "asgi":
            return count_requests(app, "asgi", count)

        def count_from_thread() -> None:
            if loop is not None:
                loop.call_soon_threadsafe(count)

        return count_requests(app, "wsgi", count_from_thread)

    # -- running ---------------------------------------------------------------------

    def run(self) -> None:
        """Serve until told to stop; exit with ``WORKER_BOOT_ERROR`` if serving fails."""
        loop = self.loop
        if loop is None:  # pragma: no cover - init_process makes it first
            raise RuntimeError("init_process must run first")
        booted = False
        try:
            booted = loop.run_until_complete(self._serve())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()
        if not booted:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    async def _serve(self) -> bool:
        """Start a server per socket, heartbeat until stopped, then shut down."""
        app = self.wsgi
        interface = self.INTERFACE if self.INTERFACE != "auto" else detect_interface(app)
        try:
            options = self.serve_options(interface)
            served = self._counted(app, interface)
            for index, listener in enumerate(self.sockets):
                extra = dict(options)
                if interface == "asgi" and index > 0:
                    extra["lifespan"] = "off"  # lifespan runs once per process
                server = await start_server(served, interface, sock=listener.sock, **extra)
                self.servers.append(server)
        except Exception:
            self.log.exception("httpaf worker failed to start")
            await self._shutdown(0)
            return False
        loop_name = type(self.loop).__module__.split(".")[0]
        self.log.info("httpaf worker serving %s (%s)", interface.upper(), loop_name)
        stop = self._stop
        if stop is None:  # pragma: no cover - init_process makes it
            raise RuntimeError("init_process must run first")
        interval = max(0.1, min(1.0, self.timeout / 4)) if self.timeout else 1.0
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
        await self._shutdown(0 if self._quick else self.cfg.graceful_timeout)
        return True

    async def _shutdown(self, timeout: float) -> None:
        """Stop every server (in-flight requests get ``timeout`` seconds), notifying."""
        if not self.servers:
            return
        shutdowns = [server.shutdown(timeout) for server in self.servers]
        done = asyncio.ensure_future(asyncio.gather(*shutdowns, return_exceptions=True))
        while not done.done():
            self.notify()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), 1.0)
        for result in done.result():
            if isinstance(result, Exception):
                self.log.error("error while shutting down: %r", result)
        self.servers.clear()


class HttpafASGIWorker(HttpafWorker):
    """:class:`HttpafWorker` that always serves ASGI."""

    INTERFACE = "asgi"


class HttpafWSGIWorker(HttpafWorker):
    """:class:`HttpafWorker` that always serves WSGI."""

    INTERFACE = "wsgi"
