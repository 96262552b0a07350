"""One client connection over a blocking socket, driving a ``ClientConnection``.

The runtime loop of ``docs/state-machine.md`` ("A runtime in a few lines"), for a
client: the request's output goes out with ``sendall`` (the serializer's bytes in one
piece when they are few, its iovecs with ``sendmsg`` when a body was scheduled
zero-copy), and the response is read with ``recv_into`` into the connection's buffer
until what the caller waits for (the head, the next body piece) has come.

The read and write timeouts bound each wait for the socket. On Linux a plain socket
(TCP or Unix, no TLS) is left blocking and the kernel keeps the timeouts
(``SO_RCVTIMEO``/``SO_SNDTIMEO``, set only when they change): a read or write is one
system call, where Python's own socket timeout polls before each. A TLS socket, and
every socket elsewhere, uses Python's socket timeout. On such a kernel-timed socket a
read first asks without sleeping, for up to ``Config.busy_read`` (:mod:`.busy`).
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from httpaf.connection import BodyReader, BodyWriter, ClientConnection, PreparedRequest
from httpaf.model import CHUNKED, CLOSE, Closed, Config, Write
from httpaf.model import Response as Head
from httpaf.net import (
    LocalProtocolError,
    Outgoing,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteTimeout,
    client_error,
    read_failure,
    write_failure,
)

from .busy import BusyReads

__all__ = ["SyncConnection", "SyncExchange"]

_SMALL = 65536
_SCHEDULE_AT = 16384
_KERNEL_TIMEOUTS = sys.platform.startswith("linux")
_UNSET = -1.0  # a timeout not set on the socket yet
_TIMED_OUT = (TimeoutError, BlockingIOError)  # Python's timeout; the kernel's (EAGAIN)
#: Seconds to wait, at most, for an answer a server sent before it stopped reading the
#: request (it is in the socket already, or comes with the close).
_ANSWER_WAIT = 1.0


def _timeval(timeout: float | None) -> bytes:
    """``timeout`` as the ``struct timeval`` of ``SO_RCVTIMEO``/``SO_SNDTIMEO`` (zero
    there means no limit, so a timeout under a microsecond becomes one microsecond)."""
    if timeout is None:
        return struct.pack("ll", 0, 0)
    seconds = int(timeout)
    micros = int((timeout - seconds) * 1_000_000)
    if seconds <= 0 and micros <= 0:
        return struct.pack("ll", 0, 1)
    return struct.pack("ll", seconds, micros)


def _poller(sock: socket.socket) -> Callable[[float], list[Any]]:
    """A function telling within ``ms`` milliseconds whether ``sock`` is readable (a
    non-empty list): one ``poll`` call where there is poll (select on Windows)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return poller.poll

    def readable(ms: float) -> list[Any]:
        return select.select([sock], [], [], ms / 1000)[0]

    return readable


def _own(data: memoryview) -> bytes:
    """A body piece as bytes: the one copy out of the read buffer (a piece the reader
    held is bytes already)."""
    whole = data.obj
    return whole if type(whole) is bytes and len(whole) == data.nbytes else bytes(data)


def _nothing() -> None:
    return None


class SyncExchange:
    """One request on a :class:`SyncConnection`: its head, body reader and error."""

    __slots__ = ("conn", "head", "reader", "error", "continued", "released")

    def __init__(self, conn: SyncConnection) -> None:
        self.conn = conn
        self.head: Head | None = None
        self.reader: BodyReader | None = None
        self.error: BaseException | None = None
        self.continued = False
        self.released = False

    def on_response(self, response: Head, reader: BodyReader) -> None:
        self.head = response
        self.reader = reader

    def on_interim(self, response: Head) -> None:
        if response.status == 100:
            self.continued = True

    def on_error(self, error: BaseException) -> None:
        if self.error is None:
            self.error = client_error(error)


class SyncConnection:
    """A blocking client connection (see the module docstring)."""

    def __init__(self, sock: socket.socket, config: Config, key: Any,
                 expiry: float | None) -> None:
        self.sock = sock
        self.conn = ClientConnection(config)
        self.key = key
        self.expiry = expiry
        self.idle_since: float | None = None
        self.uses = 0
        self.exchange: SyncExchange | None = None
        #: For a forward proxy: fields every request adds, and the absolute form.
        self.proxy_headers: list[tuple[str, str]] | None = None
        self.forward = False
        self._buf = bytearray(config.read_buffer_size)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self._eof = False
        # What the socket's timeouts are set to now (one value when Python keeps it).
        self._kernel_timeouts = _KERNEL_TIMEOUTS and type(sock) is socket.socket
        self._read_timeout: float | None = _UNSET
        self._write_timeout: float | None = _UNSET
        if self._kernel_timeouts:
            sock.settimeout(None)  # blocking: the kernel's limits apply
        busy = config.busy_read
        self._busy = (BusyReads(busy) if busy is not None and self._kernel_timeouts
                      and BusyReads.available else None)
        self._poll = _poller(sock)
        # Scheduled body pieces go out in one sendmsg where the socket has it (not TLS,
        # not Windows); else one piece per send.
        self._sendmsg = (sock.sendmsg if type(sock) is socket.socket
                         and hasattr(socket.socket, "sendmsg") else None)
        self.closed = False
        self.counted = True  # holds a slot of its pool
        self._write_broken = False  # a write failed after an early answer

    # -- state -------------------------------------------------------------------------

    def usable(self) -> bool:
        """Whether a new request may go out now: open, idle, and the server has sent
        nothing meanwhile (a readable idle socket is a close or bytes nobody asked for)."""
        if self.closed or self._write_broken or not self.conn.is_idle:
            return False
        try:
            return not self._poll(0)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        """Close the socket (a request on it fails)."""
        if self.closed:
            return
        self.closed = True
        if not self.conn.is_closed:
            self.conn.shutdown()
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending -----------------------------------------------------------------------

    def send(self, out: Outgoing, read_timeout: float | None, write_timeout: float | None,
             expect_wait: float, prepared: PreparedRequest | None = None) -> SyncExchange:
        """Write the request of ``out`` and read up to its response head (``prepared``:
        ``out.request`` serialized already)."""
        exchange = SyncExchange(self)
        self.exchange = exchange
        self.uses += 1
        self.idle_since = None
        body = out.body
        hold = out.expect_continue
        try:
            writer = self.conn.request(
                out.request if prepared is None else prepared, exchange.on_response,
                exchange.on_error,
                exchange.on_interim if hold else None,
            )
        except ValueError as error:
            self.close()
            raise LocalProtocolError(str(error)) from error
        if body.stream is None and not hold:
            self._put(writer, body.data)
            writer.close()
            self.flush(write_timeout)
        else:
            self.flush(write_timeout)
            self._send_body(exchange, writer, out, read_timeout, write_timeout, expect_wait)
        while exchange.head is None and exchange.error is None:
            self.receive(read_timeout)
        if exchange.head is None:
            self.close()
            raise cast(BaseException, exchange.error)  # (the loop ends on head or error)
        return exchange

    def _put(self, writer: BodyWriter, data: Any) -> None:
        if data is None:
            return
        if isinstance(data, str):
            data = data.encode("utf-8")
        if type(data) is bytes and len(data) >= _SCHEDULE_AT:
            writer.schedule(data)
        else:
            writer.write(data)

    def _send_body(self, exchange: SyncExchange, writer: BodyWriter, out: Outgoing,
                   read_timeout: float | None, write_timeout: float | None,
                   expect_wait: float) -> None:
        body = out.body
        if out.expect_continue:
            self._await_continue(exchange, expect_wait)
            if exchange.error is not None:
                return
            if exchange.head is not None and not exchange.continued:
                writer.abort()  # the body is not wanted; the connection ends after
                return
        if body.stream is None:
            self._put(writer, body.data)
            writer.close()
            self.flush(write_timeout)
            return
        pieces: Iterable[Any] = body.stream  # type: ignore[assignment]
        for piece in pieces:
            if exchange.error is not None or self._write_broken:
                return
            if exchange.head is not None and exchange.head.status >= 300:
                writer.abort()  # RFC 9112 §9.5: the server does not want the rest
                return
            if not piece:
                continue
            try:
                self._put(writer, piece)
            except ValueError as error:
                self.close()
                raise LocalProtocolError(str(error)) from error
            writer.flush()
            self.flush(write_timeout)
        writer.close(body.trailers if body.length == CHUNKED else None)
        self.flush(write_timeout)

    def flush(self, timeout: float | None) -> None:
        """Write everything the connection has to write (nothing once a write failed
        after an early answer: :meth:`_write_failed`)."""
        if self._write_broken:
            return
        conn = self.conn
        sock = self.sock
        while True:
            data = conn.take_output(_SMALL)
            op = conn.next_write_operation() if data is None else None
            if data is None and type(op) is not Write:
                return
            if timeout != self._write_timeout:
                self._set_timeout(timeout, reading=False)
            try:
                if data is not None:
                    sock.sendall(data)
                    continue
                iovecs = cast(Write, op).iovecs  # (checked above)
                sent = self._sendmsg(iovecs) if self._sendmsg else sock.send(iovecs[0])
                conn.report_write_result(sent)
            except _TIMED_OUT:
                self._fail(WriteTimeout(f"the request could not be written in {timeout} s"))
            except OSError as error:
                self._write_failed(error, timeout)  # (returns when an answer stands)
                return

    def _write_failed(self, error: OSError, timeout: float | None) -> None:
        """The server stopped taking the request. It may have answered first (RFC 9112
        §9.5: a 413 and a close, say): that answer is read and stands, the rest of the
        request is not sent. Else :class:`WriteError`, whose cause tells whether any
        of the response came (so that a request on a reused connection can be sent
        again, as after a close)."""
        exchange = self.exchange
        # (Read before the connection hears of the failed write: that fails the request.)
        wait = _ANSWER_WAIT if timeout is None else min(timeout, _ANSWER_WAIT)
        while (exchange is not None and exchange.head is None and exchange.error is None
               and not self.conn.is_closed):
            if not self._receive(wait):  # (bytes, the end or a reset: at once)
                break
        if exchange is not None and exchange.head is not None and exchange.error is None:
            # The answer stands, read as any (its body may be long): nothing more goes
            # out, and the connection is not reused (its request never ended).
            self._write_broken = True
            return
        self.conn.report_write_result(CLOSE)
        self._fail(write_failure(error))

    # -- receiving ---------------------------------------------------------------------

    def _await_continue(self, exchange: SyncExchange, wait: float) -> None:
        """Read for up to ``wait`` seconds, until 100 Continue or a final answer came.

        The wait is a deadline for reads, not a readiness check: on TLS a readable
        socket may carry only a session ticket, no response byte."""
        deadline = time.monotonic() + wait
        while not exchange.continued and exchange.head is None and exchange.error is None:
            left = deadline - time.monotonic()
            if left <= 0 or not self._receive(left):
                return

    def receive(self, timeout: float | None) -> None:
        """Read once from the socket and give the bytes to the connection."""
        if not self._receive(timeout):
            self._fail(ReadTimeout(f"no response byte for {timeout} seconds"))

    def _receive(self, timeout: float | None) -> bool:
        """:meth:`receive`, telling ``False`` where nothing came within ``timeout``."""
        conn = self.conn
        if conn.is_closed:
            self._fail(RemoteProtocolError("the connection is closed"))
        end = self._end
        if end == len(self._buf):
            self._grow()
            end = self._end
        if timeout != self._read_timeout:
            self._set_timeout(timeout, reading=True)
        view = self._view[end:]
        busy = self._busy
        try:
            # (A read timeout shorter than the busy window is kept exactly: no window.)
            n = (busy.read(self.sock, view)
                 if busy is not None and (timeout is None or timeout >= busy.window) else -1)
            if n < 0:
                n = self.sock.recv_into(view)
        except _TIMED_OUT:
            return False
        except OSError as error:
            exchange = self.exchange
            conn.report_exn(read_failure(error, exchange is not None and exchange.head is None))
            self.close()
            return True
        self._end = end + n
        self._feed(n == 0)
        return True

    def _feed(self, eof: bool) -> None:
        conn = self.conn
        start, end = self._start, self._end
        if eof:
            used = conn.read_eof(self._buf, start, end - start)
        else:
            used = conn.read(self._buf, start, end - start)
        start += used
        if start == end:
            self._start = self._end = 0
        else:
            self._start = start
        if conn.is_closed or type(conn.next_write_operation()) is Closed:
            self.closed = True

    def _grow(self) -> None:
        """Room after the unparsed bytes: they move to the front, or to a new buffer
        twice the size (a head bigger than this one). The buffer is not resized in
        place: it is lent out as views (``self._view``, body pieces), which forbids it."""
        start, end = self._start, self._end
        if start:
            self._buf[: end - start] = self._buf[start:end]
        else:
            buf = bytearray(2 * len(self._buf))
            buf[:end] = self._view[:end]
            self._buf, self._view = buf, memoryview(buf)
        self._start, self._end = 0, end - start

    def _set_timeout(self, timeout: float | None, reading: bool) -> None:
        """Set the read (``reading``) or write timeout; Python's one serves both."""
        if not self._kernel_timeouts:
            self.sock.settimeout(timeout)
            self._read_timeout = self._write_timeout = timeout
        elif reading:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(timeout))
            self._read_timeout = timeout
        else:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(timeout))
            self._write_timeout = timeout

    def _fail(self, error: TransportError, cause: BaseException | None = None) -> None:
        if cause is not None:
            error.__cause__ = cause
        if not self.conn.is_closed:
            self.conn.report_exn(error)
        self.close()
        raise error

    def whole_body(self, exchange: SyncExchange) -> bytes | None:
        """The body of ``exchange`` if all of it is in already (the usual case for a
        small one), taken at once; else ``None`` (:meth:`body_pieces` reads it)."""
        reader = exchange.reader
        if reader is None or not reader.at_eof or exchange.error is not None:
            return None
        got: list[memoryview] = []
        # The reader hands all it holds over as one piece (or its end if it holds
        # nothing); after that piece comes the end, without asking again.
        reader.schedule_read(got.append, _nothing)
        return _own(got[0]) if got else b""

    def body_pieces(self, exchange: SyncExchange, read_timeout: float | None,
                    on_done: Callable[[], None]) -> Iterable[bytes]:
        """The response body of ``exchange`` piece by piece; ``on_done`` at its end."""
        reader = exchange.reader
        if reader is None:
            return
        got: list[Any] = []
        append = got.append

        def on_read(data: memoryview) -> None:
            append(_own(data))

        def on_eof() -> None:
            append(None)

        while True:
            if exchange.error is not None and not got:
                raise exchange.error
            try:
                reader.schedule_read(on_read, on_eof)
            except Exception:
                if exchange.error is not None:
                    raise exchange.error from None
                raise
            if not got and self._start < self._end:
                # Bytes the connection left unparsed while the reader held its fill
                # (backpressure): they go first, before the socket is asked for more.
                self._feed(False)
            while not got:
                if exchange.error is not None:
                    raise exchange.error
                self.receive(read_timeout)
            piece = got.pop()
            if piece is None:
                on_done()
                return
            yield piece

