"""One ASGI ``websocket`` call (ASGI spec 2.4, with ``websocket.http.response``).

From the upgrade request to the end of the connection: ``receive`` gives
``websocket.connect``, then each message as ``websocket.receive``, then
``websocket.disconnect`` (with the peer's code and reason when it sent a close
frame); ``send`` takes ``websocket.accept`` (subprotocol, headers), then
``websocket.send`` and ``websocket.close``; or, instead of accepting,
``websocket.close`` (answered 403) or a denial response
(``websocket.http.response.start`` and ``.body``). The handshake itself was checked
before the application was called (a bad one is answered 400 or 426 without it).

The cycle answers through a :class:`Responder`: the engine's :class:`~httpaf.Reqd`
(``ReqdResponder``), or a transport that read the handshake itself (uvicorn's
WebSocket protocol contract, in :mod:`httpaf.uvicorn`). Once accepted, the
connection is an :class:`httpaf.aio.WebSocket`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, cast

from httpaf.aio import WebSocket, WebSocketClosed
from httpaf.connection import Reqd
from httpaf.model import Headers, Request, Response
from httpaf.websocket import ClientHandshake, WebSocketConfig, WebSocketConnection, accept

from ._scope import decode_fields
from ._types import ASGIApp, ClientDisconnected, Message, Scope

__all__ = [
    "websocket_scope",
    "Responder",
    "ReqdResponder",
    "WebSocketCycle",
    "WebSocketOptions",
    "WS_CHOICES",
]

#: ``ws`` option values (uvicorn's): ``"none"`` serves no WebSocket; the others are
#: the names of uvicorn's implementations, all served by httpaf's.
WS_CHOICES = ("auto", "none", "websockets", "websockets-sansio", "wsproto")

# Cycle states.
_CONNECTING = 0  # the application has not answered the handshake
_OPEN = 1  # accepted: messages flow
_RESPONDING = 2  # a denial response is being sent
_CLOSED = 3  # closed by the application, rejected, or denied


class WebSocketOptions:
    """A server's WebSocket options, with uvicorn's names and defaults."""

    __slots__ = ("enabled", "config", "max_queue", "ping_interval", "ping_timeout", "close_timeout")

    def __init__(
        self,
        ws: str = "auto",
        ws_max_size: int = 16777216,
        ws_max_queue: int = 32,
        ws_ping_interval: float | None = 20.0,
        ws_ping_timeout: float | None = 20.0,
        ws_per_message_deflate: bool = True,
        close_timeout: float = 10.0,
    ) -> None:
        if ws not in WS_CHOICES:
            raise ValueError(f"ws must be one of {', '.join(WS_CHOICES)}, not {ws!r}")
        if ws_max_queue < 1:
            raise ValueError("ws_max_queue must be at least 1")
        #: Whether upgrade requests to WebSocket are served (``ws != "none"``).
        self.enabled = ws != "none"
        self.config = WebSocketConfig(
            max_message_size=ws_max_size, per_message_deflate=bool(ws_per_message_deflate)
        )
        self.max_queue = ws_max_queue
        self.ping_interval = ws_ping_interval
        self.ping_timeout = ws_ping_timeout
        self.close_timeout = close_timeout


class Responder(Protocol):
    """How a cycle answers the handshake."""

    def upgrade(self, response: Response, opened: Callable[[Any, bytes], WebSocket]) -> None:
        """Send the ``101``; once it is out, call ``opened(transport, leftover)``."""

    def respond(self, response: Response, body: bytes) -> None:
        """Send a whole response instead (the connection then closes)."""

    def start(self, response: Response) -> Any:
        """Send the head of a response whose body follows: the body's writer
        (``write(bytes)``, ``close()``)."""

    def abort(self) -> None:
        """Cut the connection (a response that cannot be finished)."""


class ReqdResponder:
    """Answers through the engine's request descriptor."""

    __slots__ = ("reqd",)

    def __init__(self, reqd: Reqd) -> None:
        self.reqd = reqd

    def upgrade(self, response: Response, opened: Callable[[Any, bytes], WebSocket]) -> None:
        self.reqd.respond_with_upgrade(response, opened)

    def respond(self, response: Response, body: bytes) -> None:
        self.reqd.respond_with_string(response, body)

    def start(self, response: Response) -> Any:
        return self.reqd.respond_with_streaming(response, flush_headers_immediately=True)

    def abort(self) -> None:
        self.reqd.report_exn(RuntimeError("the denial response was not finished"))


def websocket_scope(
    settings: Any,
    request: Request,
    handshake: ClientHandshake,
    headers: list[tuple[bytes, bytes]],
    server: Any,
    client: Any,
    scheme: str,
) -> Scope:
    """The ``websocket`` scope of the handshake ``request`` (``scheme`` its HTTP one)."""
    path, raw_path, query = settings.split_target(request.target)
    return {
        "type": "websocket",
        "asgi": {"version": settings.asgi["version"], "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "wss" if scheme == "https" else "ws",
        "server": server,
        "client": client,
        "root_path": settings.root_path,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "subprotocols": handshake.subprotocols,
        "state": settings.state.copy(),
        "extensions": {"websocket.http.response": {}},
    }


class WebSocketCycle:
    """One ASGI ``websocket`` call: the application's ``receive`` and ``send``.

    ``make_websocket(conn, subprotocol)`` makes the connection's
    :class:`~httpaf.aio.WebSocket` once accepted; ``default_fields()`` gives the
    fields every response starts with; ``log`` is the server's settings (its
    loggers).
    """

    __slots__ = (
        "scope",
        "handshake",
        "options",
        "responder",
        "make_websocket",
        "default_fields",
        "settings",
        "state",
        "ws",
        "connected",
        "opened",
        "disconnect",
        "lost",
        "denial",
        "writer",
    )

    def __init__(
        self,
        scope: Scope,
        handshake: ClientHandshake,
        options: WebSocketOptions,
        responder: Responder,
        make_websocket: Callable[[WebSocketConnection, str | None], WebSocket],
        default_fields: Callable[[], list[tuple[str, str]]],
        settings: Any,
    ) -> None:
        self.scope = scope
        self.handshake = handshake
        self.options = options
        self.responder = responder
        self.make_websocket = make_websocket
        self.default_fields = default_fields
        self.settings = settings
        self.state = _CONNECTING
        self.ws: WebSocket | None = None
        self.connected = False  # websocket.connect was received
        self.opened: asyncio.Future[None] | None = None
        self.disconnect: Message | None = None  # what receive says from now on
        self.lost = False
        self.denial: tuple[int, list[tuple[str, str]], list[bytes]] | None = None
        self.writer: Any = None  # a denial response's body, once its head is out

    # -- running the application ---------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        """Call the application; answer 500 or cut the connection if it fails."""
        try:
            result = await app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.settings.log_app_error("Exception in ASGI application\n", exc)
            self._failed()
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                raise
        else:
            if self.state == _CONNECTING or self.state == _RESPONDING:
                self.settings.log_app_error(
                    "ASGI callable returned without completing handshake."
                    if self.state == _CONNECTING
                    else "ASGI callable returned without completing response."
                )
                self._failed()
            elif result is not None:
                self.settings.log_app_error(
                    f"ASGI callable should return None, but returned '{result}'."
                )
        self._ended()

    def _failed(self) -> None:
        """Answer 500 if nothing was answered yet; cut a denial response halfway."""
        if self.lost:
            return
        if self.state == _CONNECTING or (self.state == _RESPONDING and self.writer is None):
            self.state = _CLOSED
            self._respond(500, [], b"Internal Server Error")
        elif self.state == _RESPONDING:
            self.state = _CLOSED
            self.responder.abort()

    def shutdown(self) -> None:
        """The server stops: a handshake still unanswered is answered 500."""
        if self.state == _CONNECTING and not self.lost:
            self.state = _CLOSED
            self._respond(500, [], b"Internal Server Error")

    def _ended(self) -> None:
        """The call is over: a connection still open without a closing handshake in
        progress is cut (as uvicorn does)."""
        ws = self.ws
        if ws is not None and ws.close_timer is None:
            ws.abort()

    # -- the connection ------------------------------------------------------------

    def connection_lost(self) -> None:
        """The connection ended before the handshake was answered."""
        self.lost = True
        opened = self.opened
        if opened is not None and not opened.done():
            opened.set_exception(ClientDisconnected())
        if self.disconnect is None and self.ws is None:
            self.disconnect = {"type": "websocket.disconnect", "code": 1006}

    def peer_eof(self) -> None:
        """The client finished sending before the handshake was answered."""

    # -- receive -------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next ASGI message."""
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        disconnect = self.disconnect
        if disconnect is not None:
            return disconnect
        ws = self.ws
        if ws is None:
            opened = self.opened
            if opened is None:
                # Waiting for the application to answer the handshake: only the
                # loss of the connection can come.
                opened = self.opened = asyncio.get_running_loop().create_future()
            try:
                await opened
            except ClientDisconnected:
                pass
            ws = self.ws
            if ws is None or self.disconnect is not None:
                return self.disconnect or {"type": "websocket.disconnect", "code": 1006}
        try:
            data = await ws.receive()
        except WebSocketClosed:
            event = ws.close_event
            if self.disconnect is not None:
                return self.disconnect
            message: Message = {"type": "websocket.disconnect", "code": ws.close_code}
            if event is not None and event.received:
                message["reason"] = event.reason
            self.disconnect = message
            return message
        if type(data) is str:
            return {"type": "websocket.receive", "text": data}
        return {"type": "websocket.receive", "bytes": data}

    # -- send ----------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Take one ASGI message from the application."""
        kind = message["type"]
        state = self.state
        if state == _OPEN:
            ws = cast(WebSocket, self.ws)  # (set with the state)
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is None:
                    data = message.get("text")
                    if data is None:
                        raise RuntimeError("websocket.send needs 'bytes' or 'text'")
                try:
                    await ws.send(data)
                except WebSocketClosed:
                    raise ClientDisconnected() from None
            elif kind == "websocket.close":
                code = message.get("code", 1000)
                code = 1000 if code is None else code
                reason = message.get("reason") or ""
                self.state = _CLOSED
                if ws.close_event is not None or not ws.is_open:
                    return  # the peer closed first: nothing left to close
                self.disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
                ws.start_close(code, reason)
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.send' or 'websocket.close', "
                    f"but got '{kind}'."
                )
            return
        if self.lost:
            raise ClientDisconnected()
        if state == _CONNECTING:
            if kind == "websocket.accept":
                await self._accept(message)
            elif kind == "websocket.close":
                self.state = _CLOSED
                self.disconnect = {"type": "websocket.disconnect", "code": 1006}
                self._log(403)
                self._respond(403, [], b"")
            elif kind == "websocket.http.response.start":
                status = message["status"]
                if not isinstance(status, int) or not 100 <= status < 600:
                    raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
                self.state = _RESPONDING
                fields = decode_fields(message.get("headers", ()))
                self.denial = (status, fields, [])
                self._log(status)
                if any(name.lower() == "content-length" for name, _ in fields):
                    # The length is known: the head goes now, the body as it comes.
                    self.writer = self.responder.start(self._response(status, fields, None))
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.accept', 'websocket.close' or "
                    f"'websocket.http.response.start' but got '{kind}'."
                )
            return
        if state == _RESPONDING:
            if kind != "websocket.http.response.body":
                raise RuntimeError(
                    f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'."
                )
            # (set with the state)
            denial = cast("tuple[int, list[tuple[str, str]], list[bytes]]", self.denial)
            body = bytes(message.get("body", b""))
            more = message.get("more_body", False)
            writer = self.writer
            if writer is not None:
                if body:
                    writer.write(body)
                if not more:
                    self.state = _CLOSED
                    self.disconnect = {"type": "websocket.disconnect", "code": 1006}
                    writer.close()
                return
            denial[2].append(body)
            if not more:
                status, fields, pieces = denial
                self.state = _CLOSED
                self.disconnect = {"type": "websocket.disconnect", "code": 1006}
                self._respond(status, fields, b"".join(pieces))
            return
        raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")

    async def _accept(self, message: Message) -> None:
        subprotocol = message.get("subprotocol")
        fields = self.default_fields() + decode_fields(message.get("headers", ()))
        response, deflate = accept(
            self.handshake, self.options.config, subprotocol=subprotocol, headers=fields
        )
        self.state = _OPEN
        self._log(None)
        loop = asyncio.get_running_loop()
        opened = self.opened
        if opened is None:
            opened = self.opened = loop.create_future()

        def on_upgrade(transport: Any, leftover: bytes) -> WebSocket:
            ws = self.make_websocket(
                WebSocketConnection(False, self.options.config, deflate), subprotocol
            )
            self.ws = ws
            if not opened.done():
                opened.set_result(None)
            return ws

        self.responder.upgrade(response, on_upgrade)
        try:
            await opened
        except ClientDisconnected:
            self.state = _CLOSED
            raise

    def _response(
        self, status: int, fields: list[tuple[str, str]], body: bytes | None
    ) -> Response:
        headers = Headers(self.default_fields() + fields)
        if status != 403 or body:
            headers.add_unless_exists("content-type", "text/plain; charset=utf-8")
        if body is not None:
            headers.add_unless_exists("content-length", str(len(body)))
        headers.add_unless_exists("connection", "close")
        return Response(status, headers)

    def _respond(self, status: int, fields: list[tuple[str, str]], body: bytes) -> None:
        self.responder.respond(self._response(status, fields, body), body)

    def _log(self, status: int | None) -> None:
        self.settings.log_websocket(self.scope, "[accepted]" if status is None else str(status))
