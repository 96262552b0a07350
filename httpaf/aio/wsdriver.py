"""The WebSocket driver: a connection's read and write paths, queue and timers over an
asyncio transport (plain Python that a build also compiles: ``_compiled/wsdriver.pxd``).

:class:`httpaf.aio.websocket.WebSocket` adds the ``asyncio.BufferedProtocol`` base (a
compiled class cannot have a Python base) and is what applications use; see that
module for the whole story.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from httpaf.model import CLOSE as _CLOSE
from httpaf.model import Closed as _Closed
from httpaf.model import Request, StateError
from httpaf.websocket import Close, Pong, WebSocketConnection

__all__ = ["READ_SIZE", "WebSocketClosed", "Handler", "WebSocketDriver"]

#: Size of the read buffer the connections of a loop share.
READ_SIZE = 65536

_local = threading.local()
_logger = logging.getLogger("httpaf.error")


def _shared_view() -> memoryview:
    """This thread's read buffer: a loop runs one callback at a time, and a
    connection consumes everything but a cut frame head before its callback returns."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(READ_SIZE))
    return view


class WebSocketClosed(ConnectionError):
    """The WebSocket is closed: ``code`` and ``reason`` say how (see
    :class:`httpaf.websocket.Close`). An ``OSError``, as ASGI asks of a send on a
    closed connection."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


Handler = Callable[[Any], Awaitable[object]]


class WebSocketDriver:
    """An open WebSocket connection, server or client side.

    ``conn`` is the state machine; it may be given later with :meth:`open` (a
    protocol that reads the opening handshake itself). ``handler(ws)``, if given,
    runs in a task once the connection is open. ``connections`` is a set the
    connection belongs to while open (a server's, for graceful shutdown).
    ``on_message``, when set, is called with each message as it is read, instead of
    queueing it for :meth:`receive` (the fastest way to consume messages).
    """

    def __init__(
        self,
        conn: WebSocketConnection | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        handler: Handler | None = None,
        request: Request | None = None,
        subprotocol: str | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        close_timeout: float = 10.0,
        max_queue: int = 32,
        connections: set[Any] | None = None,
    ) -> None:
        #: The state machine (``None`` until :meth:`open`).
        self.conn = conn
        self.loop = loop if loop is not None else asyncio.get_event_loop()
        #: The transport, once connected.
        self.transport: Any = None
        #: The opening handshake's request (on a server).
        self.request = request
        #: The subprotocol agreed on, if any.
        self.subprotocol = subprotocol
        #: Seconds between keep-alive pings (``None``: none).
        self.ping_interval = ping_interval
        #: Seconds a keep-alive pong may take (``None``: no limit).
        self.ping_timeout = ping_timeout
        #: Seconds to wait for the peer's close frame after ours.
        self.close_timeout = close_timeout
        #: Messages waiting for :meth:`receive` (none of them claimed by a waiting
        #: call) at which reading pauses.
        self.max_queue = max(1, max_queue)
        #: Called with each message instead of queueing it, when set.
        self.on_message: Callable[[str | bytes], object] | None = None
        #: How the connection ended (``None`` while reading goes on).
        self.close_event: Close | None = None
        #: The timer waiting for the peer's close frame, the keep-alive timers, and
        #: when the last keep-alive ping went (uvicorn's names).
        self.close_timer: asyncio.TimerHandle | None = None
        self.ping_timer: asyncio.TimerHandle | None = None
        self.pong_timer: asyncio.TimerHandle | None = None
        self.ping_sent_at = 0.0
        self.last_ping_rtt = 0.0
        self._ping_payload: bytes | None = None
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self._handler = handler
        self._connections = connections
        self._queue: deque[str | bytes] = deque()
        self._receiver: asyncio.Future[None] | None = None
        self._pending = b""  # a frame head cut by the last read
        self._read_paused = False
        self._write_paused = False
        self._drain: list[asyncio.Future[None]] = []
        self._lost = False
        self._closed: asyncio.Future[None] | None = None
        #: The handler's task, once started.
        self.task: asyncio.Task[Any] | None = None
        #: The close code a server's graceful shutdown sends.
        self.shutdown_code = 1001
        # The loop's shared read buffer (as a view, and the bytearray under it).
        self._view = _shared_view()
        self._shared: bytearray = self._view.obj  # type: ignore[assignment]

    # -- state -----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether messages may still be sent."""
        conn = self.conn
        return conn is not None and not conn.close_sent and not self._lost

    @property
    def close_code(self) -> int | None:
        """The close code once the connection ended (see :class:`~httpaf.websocket.Close`)."""
        event = self.close_event
        return None if event is None else event.code

    @property
    def close_reason(self) -> str:
        """The close reason once the connection ended."""
        event = self.close_event
        return "" if event is None else event.reason

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self._connections is not None:
            self._connections.add(self)
        if self.conn is not None:
            self._opened()

    def get_buffer(self, sizehint: int) -> memoryview:
        view = self._view
        pending = self._pending
        if pending:
            view[: len(pending)] = pending
            return view[len(pending) :]
        return view

    def buffer_updated(self, nbytes: int) -> None:
        self._feed(self._shared, len(self._pending) + nbytes)

    def data_received(self, data: bytes) -> None:
        """Bytes from a transport that is not buffered (and handed-over leftovers)."""
        pending = self._pending
        data = pending + data if pending else data
        self._feed(data, len(data))

    def eof_received(self) -> bool:
        conn = self.conn
        if conn is not None:
            pending, self._pending = self._pending, b""
            conn.read_eof(pending)
            self._after_read()
        return False

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._stop_timers()
        if self._connections is not None:
            self._connections.discard(self)
        conn = self.conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.report_write_result(_CLOSE)
            events = conn.events()
            if events:
                self._dispatch(events)
        if self.close_event is None:
            self._on_close(Close(1006, "", False))
        self._wake_drain()
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(WebSocketClosed(self.close_code or 1006, self.close_reason))
        self._pings.clear()
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_result(None)

    # -- reading -----------------------------------------------------------------------

    def _feed(self, buf: bytes | bytearray, end: int) -> None:
        conn = self.conn
        if conn is None:
            self._pending = b""
            self._before_open(bytes(buf[:end]))
            return
        pos = 0
        while pos < end:
            # One message or control frame at a time, each acted on before the next
            # is read (replies keep the order of what they answer).
            used = conn.read(buf, pos, end - pos)
            pos += used
            events = conn.events()
            if events:
                self._dispatch(events)
                self._flush()
            elif not used:
                break  # a frame head cut short: kept for the next read
            if self.conn is None:
                break
        self._pending = bytes(buf[pos:end]) if pos < end else b""

    def _before_open(self, data: bytes) -> None:
        """Bytes that came before :meth:`open` (a subclass reads a handshake in them):
        kept for it, up to a frame head's worth of a read buffer."""
        self._pending += data
        if len(self._pending) > READ_SIZE // 2:
            self._pending = b""
            self._close_transport()  # a peer that talks before the connection is open

    def _after_read(self) -> None:
        conn = self.conn
        if conn is None:
            return
        events = conn.events()
        if events:
            self._dispatch(events)
        self._flush()

    def _dispatch(self, events: list[Any]) -> None:
        queue = self._queue
        for event in events:
            kind = type(event)
            if kind is str or kind is bytes:
                callback = self.on_message
                if callback is not None:
                    try:
                        callback(event)
                    except Exception as error:  # the application's: it ends the connection
                        self._callback_failed(error)
                    continue
                queue.append(event)
                waiting = len(queue)  # messages no receive() is about to take
                receiver = self._receiver
                if receiver is not None and not receiver.done():
                    receiver.set_result(None)
                    waiting -= 1
                if waiting >= self.max_queue and not self._read_paused:
                    self._pause_reading()
            elif kind is Pong:
                self._on_pong(event.payload)
            elif kind is Close:
                self._on_close(event)

    def _callback_failed(self, error: Exception) -> None:
        if isinstance(error, WebSocketClosed):
            return  # a reply to a message read before the connection closed
        _logger.error("Exception in on_message callback", exc_info=error)
        self.start_close(1011)

    def _on_close(self, event: Close) -> None:
        if self.close_event is not None:
            return  # (the first way it ended is the one that counts)
        self.close_event = event
        self._stop_keepalive()
        receiver = self._receiver
        if receiver is not None and not receiver.done():
            receiver.set_result(None)
        if self._read_paused:
            self._resume_reading()

    def _pause_reading(self) -> None:
        transport = self.transport
        if transport is not None:
            self._read_paused = True
            transport.pause_reading()

    def _resume_reading(self) -> None:
        transport = self.transport
        self._read_paused = False
        if transport is not None and not self._lost:
            transport.resume_reading()

    async def receive(self) -> str | bytes:
        """The next message: a ``str`` (text) or ``bytes`` (binary).

        Raises :class:`WebSocketClosed` once the connection has ended and every
        message read before has been taken.
        """
        queue = self._queue
        while not queue:
            event = self.close_event
            if event is not None:
                raise WebSocketClosed(event.code, event.reason)
            receiver = self._receiver = self.loop.create_future()
            try:
                await receiver
            finally:
                self._receiver = None
        message = queue.popleft()
        if self._read_paused and len(queue) < self.max_queue:
            self._resume_reading()
        return message

    def __aiter__(self) -> WebSocketDriver:
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self.receive()
        except WebSocketClosed:
            raise StopAsyncIteration from None

    # -- writing -----------------------------------------------------------------------

    def _flush(self) -> None:
        """Hand what the state machine queued to the transport; close when it is done."""
        conn = self.conn
        if conn is None:
            return
        data = conn.take_output()
        transport = self.transport
        if data is not None and transport is not None and not self._lost:
            transport.write(data)
        if conn.close_sent:
            op = conn.next_write_operation()
            if type(op) is _Closed:
                self._close_transport()

    def abort(self) -> None:
        """Close the transport now, without a closing handshake."""
        self._close_transport()

    def _close_transport(self) -> None:
        self._stop_timers()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    async def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a message (text for a ``str``), once the transport takes writes.

        Raises :class:`WebSocketClosed` after the connection closed or began to.
        """
        while self._write_paused and not self._lost:
            waiter = self.loop.create_future()
            self._drain.append(waiter)
            await waiter
        self.send_nowait(data)

    def send_nowait(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a message now, whatever the transport's buffer holds (see :meth:`send`)."""
        conn = self.conn
        if conn is None:
            raise StateError("the WebSocket is not open yet")
        if conn.close_sent or self._lost:
            raise WebSocketClosed(self.close_code or 1006, self.close_reason)
        conn.send(data)
        self._flush()

    def _wake_drain(self) -> None:
        waiters = self._drain
        if waiters:
            self._drain = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def ping(self, payload: bytes | None = None) -> asyncio.Future[None]:
        """Send a ping; the future resolves when its pong arrives."""
        conn = self.conn
        if conn is None or conn.close_sent or self._lost:
            raise WebSocketClosed(self.close_code or 1006, self.close_reason)
        if payload is None:
            payload = os.urandom(4)
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._pings[bytes(payload)] = waiter
        conn.ping(payload)
        self._flush()
        return waiter

    def start_close(self, code: int | None = 1000, reason: str = "") -> None:
        """Send our close frame (once) and wait ``close_timeout`` for the peer's."""
        conn = self.conn
        if conn is None or self._lost:
            return
        if conn.close_sent:
            return
        conn.close(code, reason)
        self._stop_keepalive()
        if self._read_paused:
            self._resume_reading()  # the peer's close frame must be read
        self._flush()
        if not self._lost and self.close_timer is None and not conn.is_closed:
            transport = self.transport
            if transport is not None and not transport.is_closing():
                self.close_timer = self.loop.call_later(self.close_timeout, self._close_late)

    def _close_late(self) -> None:
        self.close_timer = None
        self._close_transport()

    async def close(self, code: int | None = 1000, reason: str = "") -> None:
        """Close: send a close frame and wait until the connection is closed."""
        self.start_close(code, reason)
        await self.wait_closed()

    def wait_closed(self) -> asyncio.Future[None]:
        """A future resolved once the transport is closed."""
        closed = self._closed
        if closed is None:
            closed = self._closed = self.loop.create_future()
            if self._lost:
                closed.set_result(None)
        return closed

    def shutdown(self) -> None:
        """A server's graceful stop: send ``shutdown_code`` and close the transport."""
        conn = self.conn
        self._stop_timers()
        if conn is not None and not conn.close_sent and not self._lost:
            conn.close(self.shutdown_code)
            self._on_close(Close(self.shutdown_code, "", False))
            self._flush()
        self._close_transport()

    # -- timers ------------------------------------------------------------------------

    def _opened(self) -> None:
        """The connection is open: start the keep-alive and the handler."""
        interval = self.ping_interval
        if interval is not None and interval > 0:
            self.ping_timer = self.loop.call_later(interval, self._keepalive_ping)
        handler = self._handler
        if handler is not None:
            self.task = self.loop.create_task(self._run(handler))

    async def _run(self, handler: Handler) -> None:
        try:
            await handler(self)
        except WebSocketClosed:
            pass
        finally:
            self.start_close(1000)

    def _keepalive_ping(self) -> None:
        self.ping_timer = None
        conn = self.conn
        if conn is None or conn.close_sent or self._lost:
            return
        payload = self._ping_payload = os.urandom(4)
        self.ping_sent_at = self.loop.time()
        conn.ping(payload)
        self._flush()
        timeout = self.ping_timeout
        if timeout is not None:
            self.pong_timer = self.loop.call_later(timeout, self._keepalive_timeout)
        else:
            self._schedule_ping()

    def _schedule_ping(self) -> None:
        interval = self.ping_interval
        if interval is not None and interval > 0 and self.ping_timer is None:
            delay = max(0.0, interval - self.last_ping_rtt)
            self.ping_timer = self.loop.call_later(delay, self._keepalive_ping)

    def _on_pong(self, payload: bytes) -> None:
        waiter = self._pings.pop(payload, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if payload != self._ping_payload:
            return  # unsolicited, or an older ping's
        self._ping_payload = None
        self.last_ping_rtt = self.loop.time() - self.ping_sent_at
        timer = self.pong_timer
        if timer is not None:
            self.pong_timer = None
            timer.cancel()
            self._schedule_ping()

    def _keepalive_timeout(self) -> None:
        """The pong is late: fail the connection with 1011 (RFC 6455 §7.4.1)."""
        self.pong_timer = None
        conn = self.conn
        if conn is None or conn.close_sent or self._lost:
            return
        reason = "keepalive ping timeout"
        conn.close(1011, reason)
        self._on_close(Close(1011, reason, False))
        self._flush()
        self._close_transport()

    def _stop_keepalive(self) -> None:
        for name in ("ping_timer", "pong_timer"):
            timer = getattr(self, name)
            if timer is not None:
                setattr(self, name, None)
                timer.cancel()
        self._ping_payload = None

    def _stop_timers(self) -> None:
        self._stop_keepalive()
        timer = self.close_timer
        if timer is not None:
            self.close_timer = None
            timer.cancel()

    # -- opening -----------------------------------------------------------------------

    def open(self, conn: WebSocketConnection, leftover: bytes = b"") -> None:
        """Start the connection with ``conn`` (after a handshake this protocol read)."""
        self.conn = conn
        if self.transport is not None:
            self._opened()
        if leftover:
            self.data_received(leftover)
