"""A pooled client connection: the driver of a ``ClientConnection``, one exchange at a
time, a read timeout and a keep-alive expiry on one lazy timer.

:class:`PooledProtocol` is what :mod:`.pool` keeps and :mod:`.session` sends requests
on; an :class:`Exchange` is one request on it, from the head sent to the response
complete. The connection goes back to its pool the moment the connection layer says
it is idle (the response parsed to its end, the request body closed), even if the
application has not read the body yet: the body is then held by its reader.
"""

from __future__ import annotations

import asyncio
import select
from typing import Any, Protocol

from httpaf.connection import BodyReader, BodyWriter
from httpaf.model import CLOSE, READ, ConnectionClosed, Response
from httpaf.net import ReadTimeout, client_error, read_failure

from .protocols import ClientProtocol


class Keeper(Protocol):
    """What keeps a connection (its pool): told when it is idle, and when it closed."""

    def release(self, proto: PooledProtocol) -> None: ...

    def forget(self, proto: PooledProtocol) -> None: ...

__all__ = ["Exchange", "Keeper", "PooledProtocol"]

# The read timeout is checked in this many slots: a silent server fails the request
# within a slot of the timeout.
_SLOTS = 4


def _readable(fd: int) -> bool:
    """Whether ``fd`` has input (or its end) waiting, asked without a wait."""
    if _poll is None:
        return bool(select.select([fd], [], [], 0)[0])
    poller = _poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


_poll = getattr(select, "poll", None)


class Exchange:
    """One request on a connection: its response head, its errors, its waiters.

    The connection holds it while the request is in flight; it holds nothing of the
    application's :class:`~.response.Response`, so that a response the application
    drops is freed at once (and gives the connection up: ``Response.__del__``)."""

    __slots__ = (
        "proto", "head", "reader", "error", "waiter", "read_timeout", "released",
        "interim_waiter", "continued", "sending", "hold", "arrived", "writer",
        "body_waiter",
    )  # fmt: skip

    def __init__(self, proto: PooledProtocol, read_timeout: float | None) -> None:
        self.proto: PooledProtocol = proto
        self.head: Response | None = None
        self.reader: BodyReader | None = None
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None  # the head, or an error
        self.read_timeout = read_timeout
        self.released = False  # the connection went back to the pool (or closed)
        self.interim_waiter: asyncio.Future[None] | None = None  # 100 Continue
        self.continued = False
        self.sending = True  # the request is still going out (no read timeout yet)
        #: Keep the connection until the application is done with the response (read
        #: it to its end or closed it), not only until the response has arrived.
        self.hold = False
        self.arrived = False  # the whole response is in (held: not released yet)
        self.writer: BodyWriter | None = None  # the request body's, once the head is out
        #: What a read of the body waits on (the response's), failed with the error.
        self.body_waiter: asyncio.Future[Any] | None = None

    # -- the connection layer's callbacks --------------------------------------------

    def on_response(self, response: Response, reader: BodyReader) -> None:
        self.head = response
        self.reader = reader
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        proto = self.proto
        if proto._write_paused and response.status >= 300:
            # An answer that does not want the rest of the body (RFC 9112 §9.5): a body
            # waiting for the transport to take more sees it now, not when the server
            # reads. (After a 2xx the body goes on: the write timeout still counts.)
            proto._wake_writable()
        if self.interim_waiter is not None:  # (only an Expect: 100-continue request's)
            self._wake_interim()

    def on_interim(self, response: Response) -> None:
        if response.status == 100:
            self.continued = True
            self._wake_interim()

    def on_error(self, error: BaseException) -> None:
        if self.error is None:
            self.error = client_error(error)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._wake_interim()
        self.body_failed(self.error)

    def body_failed(self, error: BaseException) -> None:
        """The response body will not end: a read waiting for it fails."""
        waiter = self.body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _wake_interim(self) -> None:
        waiter = self.interim_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class PooledProtocol(ClientProtocol):
    """A client connection kept by a pool: one exchange at a time."""

    __slots__ = (
        "pool", "key", "exchange", "idle_since", "uses", "proxy_headers", "forward",
        "_timer", "_timer_at", "_quiet", "_expiry", "_closing",
    )  # fmt: skip

    def __init__(self, config: Any, pool: Keeper | None, key: Any, expiry: float | None) -> None:
        super().__init__(config)
        self.pool = pool
        self.key = key
        self.exchange: Exchange | None = None
        #: When the connection went idle (``None`` while in use).
        self.idle_since: float | None = None
        self.uses = 0  # exchanges started on it
        #: For a forward proxy: fields every request adds, and the absolute form.
        self.proxy_headers: list[tuple[str, str]] | None = None
        self.forward = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._quiet = 0.0  # seconds of the read timeout spent without a byte
        self._expiry = expiry
        self._closing = False

    # -- state -------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Whether a new request may be sent now."""
        return not self._closing and not self._finished and self.conn.is_idle

    def reusable(self, checked: bool) -> bool:
        """Whether the pool may hand this idle connection out: :attr:`usable`, and
        (``checked``: for a request that is not sent again) nothing unread in its
        socket (:meth:`input_pending`)."""
        return self.usable and not (checked and self.input_pending())

    def input_pending(self) -> bool:
        """Whether the socket holds input the loop has not read yet (one ``poll``, no
        wait): on an idle connection, the server's close or bytes nobody asked for,
        which the loop may not have seen when the connection is taken again at once."""
        transport = self._transport
        sock = None if transport is None else transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            return bool(_readable(sock.fileno()))
        except (OSError, ValueError):
            return True  # (a socket that cannot be asked is not one to send on)

    def expired(self, now: float) -> bool:
        """Whether an idle connection outlived the keep-alive expiry."""
        since = self.idle_since
        expiry = self._expiry
        return since is not None and expiry is not None and now - since >= expiry

    # -- exchanges ---------------------------------------------------------------------

    def begin(self, exchange: Exchange) -> None:
        """Start ``exchange`` on the connection (the pool handed it out)."""
        self.exchange = exchange
        self.idle_since = None
        self.uses += 1
        self._quiet = 0.0
        limit = exchange.read_timeout
        if limit is not None:
            # (A timer already set for later, the keep-alive expiry of an idle
            # connection, is moved up: the read timeout counts from now.)
            self._arm(self.loop.time() + limit / _SLOTS)

    def abandon(self, exchange: Exchange) -> None:
        """The application gave ``exchange`` up before its end: close the connection
        (its response may still be coming; nothing else could be read after it), or,
        when the whole response is in already, release it."""
        if self.exchange is exchange and not exchange.released:
            if exchange.arrived and not self._closing:
                self._release()
            else:
                self.close()

    def close(self) -> None:
        """Close the connection now (requests on it fail); the pool forgets it."""
        if self._closing:
            return
        self._closing = True
        self._cancel_timer()
        exchange = self.exchange
        if exchange is not None:
            exchange.released = True
            self.exchange = None
        conn = self.conn
        if not conn.is_closed:
            conn.shutdown()
        transport = self._transport
        if transport is not None:
            transport.abort() if exchange is not None else transport.close()
        pool = self.pool
        if pool is not None:
            pool.forget(self)

    def _release(self) -> None:
        """The exchange is over and the connection idle: back to the pool."""
        exchange = self.exchange
        self.exchange = None
        if exchange is not None:
            exchange.released = True
        now = self.loop.time()
        self.idle_since = now
        if self._expiry is not None:
            self._arm(now + self._expiry)
        pool = self.pool
        if pool is not None:
            pool.release(self)

    # -- the driver's hooks ------------------------------------------------------------

    def done_with(self, exchange: Exchange) -> None:
        """The application is done with ``exchange``'s response (read or closed)."""
        if self.exchange is exchange and exchange.arrived and not self._closing:
            self._release()

    def _settle(self, op: Any) -> None:
        if op is READ:
            exchange = self.exchange
            if exchange is not None and self.conn.is_idle and not self._closing:
                if exchange.hold:
                    exchange.arrived = True  # released when the application is done
                else:
                    self._release()
        elif op is CLOSE and not self._closing:
            self._gone()

    def connection_lost(self, exc: Exception | None) -> None:
        conn = self.conn
        if exc is not None and not conn.is_closed:
            exchange = self.exchange
            conn.report_exn(read_failure(exc, exchange is not None and exchange.head is None))
        super().connection_lost(exc)

    def _connection_ended(self) -> None:
        self._gone()

    def _gone(self) -> None:
        """The connection cannot carry requests any more: the pool forgets it."""
        if self._closing:
            return
        self._closing = True
        self._cancel_timer()
        exchange = self.exchange
        if exchange is not None and exchange.error is None and exchange.head is None:
            exchange.on_error(ConnectionClosed("connection closed", False, False))
        self.exchange = None
        if exchange is not None:
            exchange.released = True
        pool = self.pool
        if pool is not None:
            pool.forget(self)
        transport = self._transport
        if transport is not None and not transport.is_closing() and self._reader_done:
            self._maybe_close()

    # -- the timer -----------------------------------------------------------------------

    def _arm(self, at: float) -> None:
        timer = self._timer
        if timer is not None:
            if self._timer_at <= at:
                return  # it fires first and looks again
            timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        # It runs every read timeout / _SLOTS while an exchange waits: quiet slots add
        # up to the timeout (bytes that arrived meanwhile start it again), so no clock is
        # read per read.
        self._timer = None
        if self._closing:
            return
        exchange = self.exchange
        if exchange is not None:
            limit = exchange.read_timeout
            if limit is None or exchange.arrived:
                # (The whole response is in, held for the application: nothing more
                # is awaited from the server; the release arms the expiry.)
                return
            step = limit / _SLOTS
            if self._active or not self._reading or exchange.sending:
                # Bytes came, or the request is still going out, or the application
                # holds the body back: not the server's silence.
                self._active = False
                self._quiet = 0.0
            else:
                self._quiet += step
                if self._quiet >= limit - 1e-9:
                    self.conn.report_exn(ReadTimeout(f"no response byte for {limit} seconds"))
                    self.close()
                    return
            self._arm(self.loop.time() + step)
            return
        if self.idle_since is not None and self._expiry is not None:
            now = self.loop.time()
            due = self.idle_since + self._expiry
            if now < due:
                self._arm(due)
            else:
                self.close()
