"""A connection serving an ASGI application: scopes, and starting application calls."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from httpaf.aio import ServerProtocol, WebSocket
from httpaf.connection import Reqd, StartResponse
from httpaf.model import HTTP_1_0, HandshakeError, Headers, Request
from httpaf.websocket import (
    ClientHandshake,
    WebSocketConnection,
    is_websocket_request,
    read_request,
    reject,
)

from ._cycle import Cycle
from ._scope import (
    HEADER_NAMES,
    address,
    forwarded,
    has_forwarded,
    scope_headers,
    server_address,
)
from ._settings import Settings, service_unavailable
from ._start import start_task
from ._types import ASGIApp, Scope
from ._websocket import ReqdResponder, WebSocketCycle, websocket_scope

__all__ = ["ASGIProtocol"]


class ASGIProtocol(ServerProtocol):
    """A connection serving an ASGI application."""

    __slots__ = (
        "settings",
        "_server",
        "_client",
        "_scheme",
        "_trusted",
        "_cycle",
        "scope",
        "_context",
        "_template",
        "_last_target",
        "_last_method",
        "_last_version",
        "_last_fields",
        "_last_headers",
        "_last_forwarded",
        "_start_task",
    )

    def __init__(self, settings: Settings, loop: Any = None) -> None:
        self.settings = settings
        super().__init__(
            self._on_request, self._on_error, settings.config, settings.connections, loop
        )
        self._server: Any = None
        self._client: Any = None
        self._scheme = "http"
        self._trusted = False
        self._cycle: Cycle | WebSocketCycle | None = None
        #: The scope of the request being served.
        self.scope: Scope | None = None
        self._context = contextvars.Context()
        # What the scopes of requests with the last request line start from (made
        # again when the line changes), and that line.
        self._template: dict[str, Any] = {}
        self._last_target: str | None = None
        self._last_method: Any = None
        self._last_version: Any = None
        self._last_fields: list[tuple[str, str]] | None = None  # the last request's
        self._last_headers: list[tuple[bytes, bytes]] = []  # ... as scope headers
        self._last_forwarded = False  # ... with X-Forwarded-For or -Proto
        # How application calls start (eagerly where Python can: see _start).
        self._start_task = start_task(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        get = transport.get_extra_info
        self._server = server_address(get("sockname"))
        self._client = address(get("peername"))
        self._scheme = "https" if get("sslcontext") else "http"
        trust = self.settings.trust
        if trust is not None:
            self._trusted = (self._client[0] if self._client else None) in trust
        # Each call runs in a copy of this (the connection's) context: not in one of
        # the previous call's, whose task may start the next pipelined request.
        self._context = contextvars.copy_context()
        self._last_target = None  # (the template has the old addresses)
        super().connection_made(transport)

    def _scope_template(self, request: Request) -> dict[str, Any]:
        """What the ``http`` scopes of requests with the request line of ``request``
        start from (in the ASGI order): all but ``headers`` and ``state``."""
        settings = self.settings
        target = request.target
        path, raw_path, query = settings._targets.get(target) or settings.split_target(target)
        template = self._template = {
            "type": "http",
            "asgi": settings.asgi,
            "http_version": "1.0" if request.version is HTTP_1_0 else "1.1",
            "server": self._server,
            "client": self._client,
            "scheme": self._scheme,
            # A plain str: frameworks format and hash it on every request, and the
            # ASGI spec says str (a Method member is a str subclass, slower there).
            "method": str(request.method),
            "root_path": settings.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": [],
            "state": {},
            "extensions": settings.extensions,
        }
        self._last_target = target
        self._last_method = request.method
        self._last_version = request.version
        return template

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        cycle = self._cycle
        if cycle is not None:
            cycle.connection_lost()

    def shutdown(self) -> None:
        cycle = self._cycle
        if isinstance(cycle, WebSocketCycle):
            cycle.shutdown()  # a handshake still unanswered is answered 500
        super().shutdown()

    def eof_received(self) -> bool:
        keep_open = super().eof_received()
        cycle = self._cycle
        if cycle is not None:
            # The client sent all it will: an application waiting for the end of
            # the exchange hears http.disconnect (a response may still go out).
            cycle.peer_eof()
        return keep_open

    # -- requests ------------------------------------------------------------------

    def _on_request(self, reqd: Reqd) -> None:
        if reqd.upgradable and self._upgrade(reqd):
            return
        settings = self.settings
        request = reqd.request
        # A client sends much the same request line and fields on each request of a
        # connection: the scope of the last line, and the last fields converted, are
        # kept. (A copy of a dict is cheaper than a build.)
        if (
            request.target == self._last_target
            and request.method == self._last_method
            and request.version is self._last_version
        ):
            scope = self._template.copy()
        else:
            scope = self._scope_template(request).copy()
        fields = request.headers.fields
        if fields == self._last_fields:
            headers = self._last_headers.copy()
        else:
            headers = self._scope_headers(fields)
        scope["headers"] = headers
        scope["state"] = settings.state.copy()
        if self._last_forwarded and self._trusted:
            scope["client"], scope["scheme"] = forwarded(
                headers,
                self._client,
                self._scheme,
                settings.trust,  # type: ignore[arg-type]
            )
        self.scope = scope
        cycle = self._cycle = Cycle(self, settings, reqd, scope)
        if settings.limit_concurrency is not None and settings.over_limit():
            settings.error_logger.warning("Exceeded concurrency limit.")
            app: ASGIApp = service_unavailable
        else:
            app = settings.app
        context = contextvars.Context() if settings.reset_contextvars else self._context.copy()
        # Where calls start eagerly, the first step runs now, inside this read pass.
        cycle.eager = True
        try:
            task = self._start_task(self.loop, cycle.run(app), context)
        finally:
            cycle.eager = False
        if task is not None:
            cycle.track(task)

    def _scope_headers(self, fields: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
        """The scope's ``headers`` of request ``fields``, kept for the next request."""
        names = HEADER_NAMES
        try:
            headers = [(names[n], v.encode("latin-1")) for n, v in fields]
        except KeyError:  # a name not seen yet
            headers = scope_headers(fields)
        self._last_fields = fields.copy()
        self._last_headers = headers.copy()
        # Whether a trusted proxy's fields have to be read (see forwarded).
        self._last_forwarded = has_forwarded(headers)
        return headers

    def _upgrade(self, reqd: Reqd) -> bool:
        """Whether an upgrade request was taken elsewhere (not as an ``http`` scope):
        a WebSocket handshake becomes a ``websocket`` call (``_websocket``)."""
        settings = self.settings
        request = reqd.request
        if not is_websocket_request(request):
            return False
        if not settings.websocket.enabled:
            # As uvicorn does with --ws none: the request goes on as plain HTTP.
            settings.error_logger.warning(
                "Unsupported upgrade request: WebSocket is off (ws='none')."
            )
            return False
        try:
            handshake = read_request(request)
        except HandshakeError as error:
            response, body = reject(error, self.settings.default_fields())
            reqd.respond_with_string(response, body)
            return True
        reqd.body.close()
        cycle = WebSocketCycle(
            self._websocket_scope(request, handshake),
            handshake,
            settings.websocket,
            ReqdResponder(reqd),
            self._make_websocket,
            settings.default_fields,
            settings,
        )
        self._cycle = cycle
        context = contextvars.Context() if settings.reset_contextvars else self._context.copy()
        task = self._start_task(self.loop, cycle.run(settings.app), context)
        if task is not None:
            settings.tasks.add(task)
            task.add_done_callback(settings.tasks.discard)
        return True

    def _websocket_scope(self, request: Request, handshake: ClientHandshake) -> Scope:
        """The ``websocket`` scope of the handshake ``request``."""
        settings = self.settings
        headers = self._scope_headers(request.headers.fields)
        client, scheme = self._client, self._scheme
        if self._last_forwarded and self._trusted:
            client, scheme = forwarded(headers, client, scheme, settings.trust)  # type: ignore[arg-type]
        return websocket_scope(settings, request, handshake, headers, self._server, client, scheme)

    def _make_websocket(self, conn: WebSocketConnection, subprotocol: str | None) -> WebSocket:
        """The connection an accepted handshake continues as."""
        options = self.settings.websocket
        ws = WebSocket(
            conn,
            loop=self.loop,
            subprotocol=subprotocol,
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            close_timeout=options.close_timeout,
            max_queue=options.max_queue,
            connections=self.settings.connections,
        )
        ws.shutdown_code = 1012  # Service Restart, as uvicorn sends
        return ws

    def _on_error(
        self, request: Request | None, error: BaseException, start_response: StartResponse
    ) -> None:
        status, body = self.settings.error_response(error)
        fields = [
            *self.settings.default_fields(),
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", str(len(body))),
            ("connection", "close"),
        ]
        writer = start_response(Headers._of_list(fields))
        writer.write(body)
        writer.close()
