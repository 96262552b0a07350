"""WebSocket over asyncio: the runtime of :class:`httpaf.websocket.WebSocketConnection`.

:class:`WebSocket` is both the asyncio protocol that drives the state machine over a
transport and the session an application uses: ``await ws.receive()`` or
``async for message in ws``, ``await ws.send(text_or_bytes)``, ``ws.ping()``,
``await ws.close(code, reason)``. What the state machine leaves to a runtime lives
here (in :mod:`.wsdriver`, compiled when built):

- reading: straight into one buffer shared by the loop's connections (a frame head
  cut by a read is the only thing kept, 14 bytes at most), one message or control
  frame acted on at a time; received messages wait in a queue, and reading pauses
  while ``max_queue`` of them wait with no ``receive()`` to take them; ``on_message``,
  when set, takes each message as it is read instead (no queue, no task switch);
- writing: ``send`` waits while the transport's buffer is over its high-water mark
  (``pause_writing``) before it queues anything; a connection lost while a send
  waits makes it raise :class:`WebSocketClosed`;
- timers: a keep-alive ping every ``ping_interval`` seconds, failing the connection
  with 1011 when its pong is ``ping_timeout`` late; after our close frame the
  transport is closed when the peer's does not come within ``close_timeout``.

A server answers an upgrade with :func:`accept_websocket`; a client opens a
connection with :func:`connect_websocket`.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from httpaf._extensions import NO_EXTENSIONS
from httpaf.connection import Reqd
from httpaf.model import HandshakeError, Request
from httpaf.websocket import (
    WebSocketConfig,
    WebSocketConnection,
    accept,
    client_request,
    read_request,
    read_response,
    reject,
)
from httpaf.wire import ResponseParser, check_field

if TYPE_CHECKING:
    from .wsdriver import Handler, WebSocketClosed, WebSocketDriver
else:
    try:
        if NO_EXTENSIONS:
            raise ImportError("HTTPAF_NO_EXTENSIONS is set")
        from ._compiled.wsdriver import Handler, WebSocketClosed, WebSocketDriver
    except ImportError:
        from .wsdriver import Handler, WebSocketClosed, WebSocketDriver

__all__ = ["WebSocketClosed", "WebSocket", "accept_websocket", "connect_websocket"]


class WebSocket(WebSocketDriver, asyncio.BufferedProtocol):
    """An open WebSocket connection, server or client side: the driver of
    :mod:`.wsdriver` (its arguments and fields are described there) as an
    ``asyncio.BufferedProtocol``."""


# -- a server's side -------------------------------------------------------------------


def accept_websocket(
    reqd: Reqd,
    handler: Handler,
    *,
    config: WebSocketConfig | None = None,
    subprotocols: Sequence[str] = (),
    headers: Iterable[tuple[str, str]] = (),
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float = 10.0,
    max_queue: int = 32,
) -> bool:
    """Answer the upgrade request of ``reqd`` and run ``handler(ws)`` once it is open.

    A bad handshake is answered 400 (or 426 for another version) and ``False`` is
    returned. ``subprotocols`` are the server's, in its order of preference: the
    first the client offered is chosen. ``headers`` go in the ``101``.
    """
    config = config if config is not None else WebSocketConfig()
    try:
        handshake = read_request(reqd.request)
    except HandshakeError as error:
        response, body = reject(error)
        reqd.respond_with_string(response, body)
        return False
    chosen = next((p for p in subprotocols if p in handshake.subprotocols), None)
    response, deflate = accept(handshake, config, subprotocol=chosen, headers=headers)

    def on_upgrade(transport: asyncio.BaseTransport, leftover: bytes) -> WebSocket:
        old = transport.get_protocol()
        return WebSocket(
            WebSocketConnection(False, config, deflate),
            handler=handler,
            request=handshake.request,
            subprotocol=chosen,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_queue=max_queue,
            # A server's connections: its graceful shutdown closes this one too.
            connections=getattr(old, "_connections", None),
        )

    reqd.body.close()
    reqd.respond_with_upgrade(response, on_upgrade)
    return True


# -- a client's side -------------------------------------------------------------------


class _ClientHandshake(WebSocket):
    """A client connection that sends the opening handshake and reads its answer."""

    def __init__(self, request: Request, key: str, config: WebSocketConfig,
                 subprotocols: Sequence[str], **options: Any) -> None:
        super().__init__(None, **options)
        self._request = request
        self._key = key
        self._config = config
        self._offered = list(subprotocols)
        self._parser = ResponseParser()
        self._head = bytearray()
        #: Resolved when the handshake is over (or failed).
        self.ready: asyncio.Future[None] = self.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        request = self._request
        lines = [f"GET {request.target} HTTP/1.1\r\n"]
        for name, value in request.headers:
            check_field(name, value)
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        transport.write("".join(lines).encode("latin-1"))  # type: ignore[attr-defined]

    def _before_open(self, data: bytes) -> None:
        head = self._head
        head += data
        if len(head) > 65536:
            self._fail_handshake(HandshakeError("handshake answer too long", 0))
            return
        try:
            event = self._parser.parse(head, 0, len(head))
        except Exception as error:
            self._fail_handshake(HandshakeError(f"bad handshake answer: {error}", 0))
            return
        if event is None:
            return
        leftover = bytes(head[self._parser.consumed :])
        try:
            subprotocol, deflate = read_response(
                event, self._key, self._config, self._offered  # type: ignore[arg-type]
            )
        except HandshakeError as error:
            self._fail_handshake(error)
            return
        self.subprotocol = subprotocol
        self.open(WebSocketConnection(True, self._config, deflate), leftover)
        if not self.ready.done():
            self.ready.set_result(None)

    def _fail_handshake(self, error: HandshakeError) -> None:
        if not self.ready.done():
            self.ready.set_exception(error)
        self._close_transport()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.ready.done():
            self.ready.set_exception(exc or WebSocketClosed(1006, "closed during the handshake"))


async def connect_websocket(
    url: str,
    *,
    config: WebSocketConfig | None = None,
    subprotocols: Sequence[str] = (),
    headers: Iterable[tuple[str, str]] = (),
    ssl: _ssl.SSLContext | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    close_timeout: float = 10.0,
    max_queue: int = 32,
) -> WebSocket:
    """Open a WebSocket connection to ``url`` (``ws://host:port/path``, or ``wss://``).

    Raises :class:`~httpaf.model.HandshakeError` when the server does not accept
    (``status`` is its answer's).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    host = parts.hostname
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = port == (443 if secure else 80)
    config = config if config is not None else WebSocketConfig()
    request, key = client_request(
        host if default_port else f"{host}:{port}",
        target,
        config,
        subprotocols=subprotocols,
        headers=headers,
    )
    if secure and ssl is None:
        ssl = _ssl.create_default_context()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: _ClientHandshake(
            request,
            key,
            config,
            subprotocols,
            loop=loop,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_queue=max_queue,
        ),
        host,
        port,
        ssl=ssl,
    )
    try:
        await protocol.ready
    except BaseException:
        protocol._close_transport()
        raise
    return protocol
