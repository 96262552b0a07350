"""httpaf as uvicorn's HTTP and WebSocket protocols: ``uvicorn --http
httpaf.uvicorn:HttpafProtocol --ws httpaf.uvicorn:HttpafWebSocketProtocol``.

:class:`HttpafProtocol` follows uvicorn's protocol contract (the one its built-in
``httptools`` and ``h11`` classes follow): it is built with ``config``,
``server_state``, ``app_state`` and ``_loop``; it joins
``server_state.connections`` while open and puts each application call that runs as
a task in ``server_state.tasks``; it counts ``server_state.total_requests`` and
starts each response with ``server_state.default_headers``; ``shutdown()`` closes an
idle connection at once and a busy one after its current response; a
``limit_concurrency`` overflow is answered 503; WebSocket upgrades go to
``config.ws_protocol_class``; logs go to ``uvicorn.error`` and ``uvicorn.access``.
The ASGI side (scope, ``receive``, ``send``, and how calls start) is the one of
:mod:`httpaf.asgi`, with ``spec_version`` 2.3 as uvicorn announces it. On a loop
without a clock (uvicorn's test double) the keep-alive timer is
``timeout_keep_alive_task``, one handle per wait; on a real loop it is the runtime's
timer, re-armed lazily rather than once per request.

:class:`HttpafWebSocketProtocol` follows uvicorn's WebSocket protocol contract: built
like the HTTP class, it is given the transport and the upgrade request's bytes (the
HTTP class replays them), joins ``server_state.connections``, runs the ASGI
``websocket`` call of :mod:`httpaf.asgi` in a task of ``server_state.tasks``, keeps
``transport``, ``close_timeout``/``close_timer`` and ``ping_timer``/``ping_sent_at``
under uvicorn's names, and closes with 1012 on ``shutdown()``. Its options are
uvicorn's ``ws_max_size``, ``ws_ping_interval``, ``ws_ping_timeout`` and
``ws_per_message_deflate``; as in uvicorn's sans-I/O class, reading pauses while a
received message waits for the application. When :class:`HttpafProtocol` is the
HTTP class, it hands the upgrade over without replaying the request.

Beyond uvicorn's own classes it also answers ``408`` to a request head that takes
longer than ``Config.head_timeout`` and closes a connection whose request body
stalls for ``Config.body_timeout`` (httpaf's defaults), and arms the keep-alive
timer before the first request too.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from httpaf.aio import WebSocket
from httpaf.asgi import (
    ASGIProtocol,
    Scope,
    Settings,
    WebSocketCycle,
    address,
    decode_fields,
    escape,
    scope_headers,
    server_address,
    websocket_scope,
)
from httpaf.connection import AWAIT_NOTHING, AWAIT_REQUEST, Reqd, error_status
from httpaf.model import Config, HandshakeError, ParseError, Request, Response, reason_phrase
from httpaf.websocket import WebSocketConnection, read_request, reject
from httpaf.wire import RequestParser, check_field

__all__ = ["HttpafProtocol", "HttpafWebSocketProtocol"]

_TRACE = 5  # uvicorn's TRACE log level
_INVALID = b"Invalid HTTP request received."
_NO_WS_HINT = (
    "No supported WebSocket library detected. Please use \"pip install 'uvicorn[standard]'\","
    " or install 'websockets' or 'wsproto' manually."
)


class _UvicornSettings(Settings):
    """uvicorn's flavour of the shared settings: its state, loggers and formats."""

    spec_version = "2.3"
    discard_by_callback = True

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any]) -> None:
        timeout = config.timeout_keep_alive
        super().__init__(
            config.loaded_app,
            Config(keep_alive_timeout=timeout if timeout and timeout > 0 else None),
            state=app_state,
            root_path=config.root_path,
            limit_concurrency=config.limit_concurrency,
            server_header=False,
            date_header=False,
            reset_contextvars=bool(getattr(config, "reset_contextvars", False)),
            connections=server_state.connections,
            tasks=server_state.tasks,
            asgi_version=config.asgi_version,
            ws_max_size=config.ws_max_size,
            ws_max_queue=config.ws_max_queue,
            ws_ping_interval=config.ws_ping_interval,
            ws_ping_timeout=config.ws_ping_timeout,
            ws_per_message_deflate=config.ws_per_message_deflate,
        )
        self.server_state = server_state
        self.uvicorn_config = config
        self.access_logger = logging.getLogger("uvicorn.access")
        self.error_logger = logging.getLogger("uvicorn.error")
        self.access_log = self.access_logger.hasHandlers()
        self.counter = server_state  # its total_requests
        self._watched = server_state  # its default_headers

    def default_fields(self) -> list[tuple[str, str]]:
        headers = self.server_state.default_headers
        if headers is not self._source:  # uvicorn rebuilds the list every second
            self._source = headers
            self._fields = decode_fields(headers)
            self._responses = {}
            self._last_status = None
        return self._fields

    def over_limit(self) -> bool:
        limit = self.limit_concurrency
        return limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)

    def log_access(self, scope: Scope, request: Request, status: int) -> None:
        if self.access_log:
            client = scope["client"]
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                escape(f"{client[0]}:{client[1]}") if client else "",
                scope["method"],
                escape(request.target),
                scope["http_version"],
                status,
            )

    def log_websocket(self, scope: Scope, outcome: str) -> None:
        # uvicorn logs WebSocket handshakes on its error logger (its access
        # formatter expects an HTTP request line).
        if self.error_logger.isEnabledFor(logging.INFO):
            client = scope.get("client")
            query = scope.get("query_string", b"")
            path = scope.get("path", "") + ("?" + query.decode("latin-1") if query else "")
            self.error_logger.info(
                '%s - "WebSocket %s" %s',
                escape(f"{client[0]}:{client[1]}") if client else "",
                escape(path),
                outcome,
            )

    def error_response(self, error: BaseException) -> tuple[int, bytes]:
        status = error_status(error)
        if isinstance(error, ParseError) and status != 408:
            self.error_logger.warning(_INVALID.decode())
            return status, _INVALID
        return status, reason_phrase(status).encode()


_SETTINGS: weakref.WeakKeyDictionary[Any, _UvicornSettings] = weakref.WeakKeyDictionary()


def _settings_for(config: Any, server_state: Any, app_state: dict[str, Any]) -> _UvicornSettings:
    """One settings object per uvicorn server, shared by its connections."""
    settings = _SETTINGS.get(config)
    if (
        settings is None
        or settings.server_state is not server_state
        or settings.state is not app_state
    ):
        settings = _SETTINGS[config] = _UvicornSettings(config, server_state, app_state)
    return settings


class HttpafProtocol(ASGIProtocol):
    """An HTTP/1.1 connection for uvicorn, driven by httpaf's engine.

    Use it with ``uvicorn --http httpaf.uvicorn:HttpafProtocol app:app`` or
    ``uvicorn.Config(app, http=HttpafProtocol)``.
    """

    __slots__ = (
        "config",
        "app",
        "logger",
        "access_logger",
        "ws_protocol_class",
        "root_path",
        "limit_concurrency",
        "app_state",
        "server_state",
        "connections",
        "tasks",
        "timeout_keep_alive",
        "timeout_keep_alive_task",
        "transport",
        "_clocked",
        "_timer",
    )

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.access_logger = logging.getLogger("uvicorn.access")
        self.ws_protocol_class = config.ws_protocol_class
        self.root_path = config.root_path
        self.limit_concurrency = config.limit_concurrency
        self.app_state = app_state
        self.server_state = server_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.timeout_keep_alive = config.timeout_keep_alive
        self.timeout_keep_alive_task: Any = None
        self.transport: Any = None
        self._timer: Any = None  # on a loop without a clock: the head or body timer
        self._clocked = callable(getattr(self.loop, "time", None))
        super().__init__(_settings_for(config, server_state, app_state), self.loop)

    # -- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        super().connection_made(transport)
        if self.logger.level <= _TRACE:
            prefix = f"{self._client[0]}:{self._client[1]} - " if self._client else ""
            self.logger.log(_TRACE, "%sHTTP connection made", prefix)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.logger.level <= _TRACE:
            prefix = f"{self._client[0]}:{self._client[1]} - " if self._client else ""
            self.logger.log(_TRACE, "%sHTTP connection lost", prefix)

    def timeout_keep_alive_handler(self) -> None:
        """The keep-alive timer ran out: close the idle connection."""
        self.timeout_keep_alive_task = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    # -- requests ------------------------------------------------------------------

    def _upgrade(self, reqd: Reqd) -> bool:
        upgrade = (reqd.request.headers.get("upgrade") or "").strip().lower()
        ws_class = self.ws_protocol_class
        if upgrade == "websocket" and isinstance(ws_class, type):
            if issubclass(ws_class, HttpafWebSocketProtocol):
                return super()._upgrade(reqd)  # ours: no replay (see _make_websocket)
        if upgrade == "websocket" and self.ws_protocol_class is not None:
            self._handoff = lambda leftover: self._to_websocket(reqd, leftover)
            return True
        self.logger.warning("Unsupported upgrade request.")
        if self.ws_protocol_class is None:
            self.logger.warning(_NO_WS_HINT)
        return False

    def _make_websocket(self, conn: WebSocketConnection, subprotocol: str | None) -> WebSocket:
        """The accepted connection continues as the configured class of ours."""
        if self.logger.level <= _TRACE:
            prefix = f"{self._client[0]}:{self._client[1]} - " if self._client else ""
            self.logger.log(_TRACE, "%sUpgrading to WebSocket", prefix)
        ws = self.ws_protocol_class(
            config=self.config,
            server_state=self.server_state,
            app_state=self.app_state,
            _loop=self.loop,
        )
        ws.subprotocol = subprotocol
        ws.open(conn)
        return ws  # type: ignore[no-any-return]

    def _to_websocket(self, reqd: Reqd, leftover: bytes) -> None:
        """Give the connection to ``ws_protocol_class``, replaying the request head."""
        if self.logger.level <= _TRACE:
            prefix = f"{self._client[0]}:{self._client[1]} - " if self._client else ""
            self.logger.log(_TRACE, "%sUpgrading to WebSocket", prefix)
        self.connections.discard(self)
        request = reqd.request
        head = [f"{request.method} {request.target} HTTP/1.1\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in request.headers)
        head.append("\r\n")
        protocol = self.ws_protocol_class(
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        protocol.connection_made(self.transport)
        protocol.data_received("".join(head).encode("latin-1") + leftover)
        self.transport.set_protocol(protocol)

    # -- timers: uvicorn's keep-alive contract -------------------------------------

    def _unset_keep_alive(self) -> None:
        task = self.timeout_keep_alive_task
        if task is not None:
            self.timeout_keep_alive_task = None
            task.cancel()

    def _set_timer(self, kind: int) -> None:
        if self._clocked:
            # The runtime's clock (not a timer handle per request).
            super()._set_timer(kind)
            return
        # uvicorn's MockLoop has call_later and no clock: one handle per wait, the
        # keep-alive one in timeout_keep_alive_task.
        self._timer_kind = kind
        self._heads = self.conn.request_count
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        if kind == AWAIT_REQUEST:
            if self.timeout_keep_alive_task is None:
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )
            return
        self._unset_keep_alive()
        timeout = self._timeouts[kind]
        if kind != AWAIT_NOTHING and timeout is not None:
            self._timer = self.loop.call_later(timeout, self._deadline_passed, kind)

    def _deadline_passed(self, kind: int) -> None:
        self._timer = None
        if self._reader_done or kind != self._timer_kind:
            return
        timeout = self._timeouts[kind]
        if self._write_paused and timeout is not None:
            self._timer = self.loop.call_later(timeout, self._deadline_passed, kind)
            return
        self._timer_kind = AWAIT_NOTHING
        self._expire(kind)

    def _connection_ended(self) -> None:
        super()._connection_ended()
        self._unset_keep_alive()
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()


class _TransportResponder:
    """Answers a handshake that a :class:`HttpafWebSocketProtocol` read itself."""

    __slots__ = ("ws",)

    def __init__(self, ws: HttpafWebSocketProtocol) -> None:
        self.ws = ws

    def _write_head(self, response: Response, body: bytes = b"") -> None:
        status = int(response.status)
        lines = [f"HTTP/1.1 {status} {reason_phrase(status)}\r\n"]
        for name, value in response.headers:
            check_field(name, value)
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        self.ws.transport.write("".join(lines).encode("latin-1") + body)

    def upgrade(self, response: Response, opened: Any) -> None:
        ws = self.ws
        if ws.transport is None or ws.transport.is_closing():
            ws.cycle_lost()
            return
        self._write_head(response)
        leftover, ws._pending = ws._pending, b""
        opened(ws.transport, b"")
        if leftover:
            ws.data_received(leftover)

    def respond(self, response: Response, body: bytes) -> None:
        ws = self.ws
        if ws.transport is not None and not ws.transport.is_closing():
            self._write_head(response, body)
            ws.transport.close()

    def start(self, response: Response) -> _TransportResponder:
        self._write_head(response)
        return self

    def write(self, data: bytes) -> None:
        transport = self.ws.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        transport = self.ws.transport
        if transport is not None:
            transport.close()


class HttpafWebSocketProtocol(WebSocket):
    """A WebSocket connection for uvicorn, driven by httpaf's engine.

    Use it with ``uvicorn --ws httpaf.uvicorn:HttpafWebSocketProtocol app:app`` (with
    any ``--http`` class; with :class:`HttpafProtocol` the request is not replayed).
    """

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.app_state = app_state
        self.server_state = server_state
        self.logger = logging.getLogger("uvicorn.error")
        self.settings = _settings_for(config, server_state, app_state)
        options = self.settings.websocket
        super().__init__(
            None,
            loop=_loop or asyncio.get_event_loop(),
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            close_timeout=options.close_timeout,
            # uvicorn's sans-I/O class reads no further while a message waits.
            max_queue=1,
            connections=server_state.connections,
        )
        self.shutdown_code = 1012  # Service Restart, as uvicorn's classes send
        self.cycle: WebSocketCycle | None = None
        self._parser: RequestParser | None = None
        self._head = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.logger.level <= _TRACE:
            client = address(transport.get_extra_info("peername"))
            prefix = f"{client[0]}:{client[1]} - " if client else ""
            self.logger.log(_TRACE, "%sWebSocket connection made", prefix)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.cycle_lost()
        if self.logger.level <= _TRACE:
            self.logger.log(_TRACE, "WebSocket connection lost")

    def cycle_lost(self) -> None:
        """The connection ended: an application waiting on the handshake hears it."""
        cycle = self.cycle
        if cycle is not None and self.conn is None:
            cycle.connection_lost()

    def shutdown(self) -> None:
        if self.conn is None:
            cycle = self.cycle
            if cycle is not None:
                cycle.shutdown()  # a handshake still unanswered is answered 500
            self._close_transport()
            return
        super().shutdown()

    # -- the handshake, replayed by the HTTP protocol --------------------------------

    def _before_open(self, data: bytes) -> None:
        if self.cycle is not None:
            self._pending += data  # frames sent before the 101: kept for after it
            return
        head = self._head
        head += data
        parser = self._parser
        if parser is None:
            parser = self._parser = RequestParser()
        try:
            event = parser.parse(head, 0, len(head))
        except ParseError as error:
            self._refuse(HandshakeError(error.message, error.status))
            return
        if not isinstance(event, Request):
            return  # the head is not whole yet
        self._pending = bytes(head[parser.consumed :])
        self._head = bytearray()
        self._parser = None
        try:
            handshake = read_request(event)
        except HandshakeError as error:
            self._refuse(error)
            return
        transport = self.transport
        get = transport.get_extra_info
        settings = self.settings
        scope = websocket_scope(
            settings,
            event,
            handshake,
            scope_headers(event.headers),
            server_address(get("sockname")),
            address(get("peername")),
            "https" if get("sslcontext") else "http",
        )
        self.request = event
        cycle = self.cycle = WebSocketCycle(
            scope,
            handshake,
            settings.websocket,
            _TransportResponder(self),
            self._adopt,
            settings.default_fields,
            settings,
        )
        task = self.loop.create_task(cycle.run(self.app))
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _adopt(self, conn: WebSocketConnection, subprotocol: str | None) -> WebSocket:
        self.subprotocol = subprotocol
        self.open(conn)
        return self

    def _refuse(self, error: HandshakeError) -> None:
        response, body = reject(error, self.settings.default_fields())
        _TransportResponder(self).respond(response, body)
