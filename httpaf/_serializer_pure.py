"""A Faraday-style buffered serializer for HTTP/1.1 messages, in pure Python.

The twin of ``_serializer.pyx``. Bytes reach the output two ways:

- *copying* writes (:meth:`Serializer.write`, the head and chunk writers) go into a
  buffer; a buffer is reused from its start once everything handed out of it has been
  reported written, and a fresh one is taken when a write does not fit;
- *scheduled* writes (:meth:`Serializer.schedule`) queue the caller's buffer itself,
  never copied: the caller must leave it alone until a flush callback says it was
  written.

:meth:`Serializer.operation` hands the runtime the queued iovecs (memoryviews) in
order; the runtime reports how many bytes it wrote with :meth:`Serializer.shift`, which
fires the flush callbacks whose bytes are all out.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable

from httpaf.model import (
    CHUNKED,
    HTTP_1_1,
    Headers,
    Request,
    Response,
    StateError,
    Status,
    Version,
    response_head_framing,
)

__all__ = ["DateField", "Serializer", "check_field", "check_reason"]

Callback = Callable[[], None]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Field values and reason phrases: no CTL but HTAB (so no CR, LF or NUL), no DEL, and
# nothing beyond latin-1 (it could not go on the wire as one byte).
_BAD_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]")
_TARGET = re.compile(r"[\x21-\x7e]+")
_CRLF = b"\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


def check_field(name: str, value: str) -> None:
    """Refuse a field whose name is not a token or whose value holds CTLs (CR, LF, NUL)."""
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(f"invalid header field name: {name!r}")
    if _BAD_VALUE.search(value) is not None:
        raise ValueError(f"invalid character in value of header field {name!r}")


def check_reason(reason: str) -> None:
    """Refuse a reason phrase holding CTLs."""
    if _BAD_VALUE.search(reason) is not None:
        raise ValueError(f"invalid character in reason phrase: {reason!r}")


def _encode_fields(parts: list[str], headers: Iterable[tuple[str, str]]) -> None:
    token, bad_value = _TOKEN.fullmatch, _BAD_VALUE.search
    for name, value in headers:
        if token(name) is None or bad_value(value) is not None:
            check_field(name, value)  # raises the precise error
        parts.append(f"{name}: {value}\r\n")


# code -> ("HTTP/1.1 200 OK\r\n", "OK") for every standard status and its phrase.
_STATUS_LINES = {int(s): (f"HTTP/1.1 {int(s)} {s.phrase}\r\n", s.phrase) for s in Status}


def _byte_view(data: bytes | bytearray | memoryview) -> memoryview:
    """``data`` as a flat memoryview of bytes (``len`` is then its size in bytes)."""
    view = data if type(data) is memoryview else memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def _latin1(text: str, what: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not latin-1 text") from None


# Copy buffers of idle serializers, by size: a connection holds one only while it has
# copied bytes not yet handed out, so thousands of idle keep-alive connections share a
# few. Lists are safe to share: ``pop`` and ``append`` are atomic.
# A whole body of at most this many bytes, given as bytes, is copied beside its head.
_COPY_LIMIT = 2048
_POOLS: dict[int, list[bytearray]] = {}
_POOL_LIMIT = 64  # buffers kept per size; more are freed
# The queue of a serializer that never queued anything, shared: read, never appended to
# (each append site makes a list of its own first).
_NO_QUEUE: list[memoryview] = []


class DateField:
    """The current ``Date`` value that serializers add to responses without one.

    The serializer reads no clock: a runtime that has one keeps this up to date
    (:meth:`set`, once a second) and gives it to the serializers of its connections.
    """

    __slots__ = ("value", "line", "end")

    def __init__(self, value: str = "") -> None:
        self.value = value  # an IMF-fixdate (RFC 9110 §5.6.7)
        self.line = self.end = b""
        self.set(value)

    def set(self, value: str) -> None:
        """Make ``value`` (an IMF-fixdate) the current date."""
        self.value = value
        self.line = b"Date: " + _latin1(value, "date") + b"\r\n"
        self.end = self.line + b"\r\n"  # how a head with this date ends


class Serializer:
    """A queue of output bytes with copy and zero-copy writes and flush callbacks."""

    __slots__ = (
        "_size", "_buffer", "_view", "_capacity", "_scheduled_pos", "_write_pos", "_queue",
        "_pool", "_flushed", "_bytes_received", "_bytes_written", "_closed", "waiter", "date",
    )  # fmt: skip
    _capacity: int  # len(_buffer), 0 without one
    _scheduled_pos: int
    _write_pos: int

    def __init__(self, buffer_size: int = 4096) -> None:
        if buffer_size <= 0:
            raise ValueError("buffer_size must be positive")
        self._size = buffer_size
        self._pool = _POOLS.setdefault(buffer_size, [])  # idle buffers of _size bytes
        # None while nothing copied is pending (see _release).
        self._buffer: bytearray | None = None
        self._view: memoryview | None = None  # of _buffer, once bytes are queued from it
        self._release()  # _capacity (len(_buffer), or 0) and the positions
        self._queue = _NO_QUEUE
        # (threshold, callback) pairs, once a flush callback waits (rare: saves a deque)
        self._flushed: deque[tuple[int, Callback]] | None = None
        self._bytes_received = 0  # bytes queued so far
        self._bytes_written = 0  # bytes shifted so far
        self._closed = False
        #: What the writer of the output registered to hear of new output (http/af's
        #: ``Writer.on_wakeup``): :meth:`wakeup` calls it once. ``None`` when nobody
        #: waits.
        self.waiter: Callback | None = None
        #: The ``Date`` of responses framed without one, or ``None`` for none.
        self.date: DateField | None = None

    def wakeup(self) -> None:
        """Tell the waiting writer, if any, that there may be output (once)."""
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            waiter()

    # -- state ---------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def pending_bytes(self) -> int:
        """Bytes written or scheduled but not yet reported written."""
        return self._write_pos - self._scheduled_pos + sum(map(len, self._queue))

    @property
    def has_pending_output(self) -> bool:
        """Whether any bytes wait to be written."""
        return self._write_pos != self._scheduled_pos or bool(self._queue)

    def is_quiet(self) -> bool:
        """Whether nothing waits to be written and the serializer is open.

        ``not (has_pending_output or is_closed)``, as a method: the compiled
        connection layer calls it in C (a property is a Python attribute lookup).
        """
        return not self._closed and self._write_pos == self._scheduled_pos and not self._queue

    # -- copying writes --------------------------------------------------------------

    def _ensure_space(self, n: int) -> None:
        if self._capacity - self._write_pos < n:
            self._flush_buffer()
            # A fresh buffer: the old one lives on only in queued iovecs.
            pool = self._pool
            buffer = pool.pop() if n <= self._size and pool else bytearray(max(self._size, n))
            self._buffer = buffer
            self._view = None
            self._capacity = len(buffer)
            self._scheduled_pos = self._write_pos = 0

    def _release(self) -> None:
        """Everything copied was handed out and written: give the buffer back.

        Only the usual size returns to the pool; no view of it is queued any more
        (the runtime reported those bytes written), as when it was reused in place.
        """
        buffer = self._buffer
        self._buffer = self._view = None
        self._capacity = 0
        self._scheduled_pos = 0  # start of copied bytes not yet queued
        self._write_pos = 0  # end of copied bytes
        pool = self._pool
        if buffer is not None and len(buffer) == self._size and len(pool) < _POOL_LIMIT:
            pool.append(buffer)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` (any buffer; its bytes) into the output."""
        if self._closed:
            raise StateError("cannot write to closed writer")
        if type(data) is not bytes and type(data) is not bytearray:
            data = _byte_view(data)
        n = len(data)
        if n == 0:
            return
        if self._capacity - self._write_pos < n:
            self._ensure_space(n)
        pos = self._write_pos
        self._buffer[pos : pos + n] = data  # type: ignore[index]
        self._write_pos = pos + n

    def write_string(self, text: str) -> None:
        """Copy ``text``, encoded as latin-1, into the output."""
        self.write(_latin1(text, "text"))

    def writev(self, pieces: Iterable[bytes | bytearray | memoryview]) -> None:
        """Copy each of ``pieces`` in order."""
        for piece in pieces:
            self.write(piece)

    # -- zero-copy writes ------------------------------------------------------------

    def _flush_buffer(self) -> None:
        start, end = self._scheduled_pos, self._write_pos
        if end > start:
            view = self._view
            if view is None:
                view = self._view = memoryview(self._buffer)  # type: ignore[arg-type]
            if self._queue is _NO_QUEUE:
                self._queue = []
            self._queue.append(view[start:end])
            self._bytes_received += end - start
            self._scheduled_pos = end

    def schedule(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` itself, after what is already written; it is not copied."""
        if self._closed:
            raise StateError("cannot write to closed writer")
        self._flush_buffer()
        view = _byte_view(data)
        n = len(view)
        if n:
            if self._queue is _NO_QUEUE:
                self._queue = []
            self._queue.append(view)
            self._bytes_received += n

    def schedulev(self, pieces: Iterable[bytes | bytearray | memoryview]) -> None:
        """Queue each of ``pieces`` in order, none copied."""
        for piece in pieces:
            self.schedule(piece)

    # -- HTTP ------------------------------------------------------------------------

    def write_response_head(
        self, response: Response, extra: list[tuple[str, str]] | None = None
    ) -> None:
        """Copy the status line, the header fields, then ``extra`` fields.

        Names must be tokens; CR, LF, NUL and other CTLs are refused in values and the
        reason phrase (``ValueError``), so nothing can be injected into the head.
        """
        status, reason = response.status, response.reason
        if not 100 <= status <= 999:
            raise ValueError(f"status code {status} is not a three-digit number")
        line = _STATUS_LINES.get(status) if response.version is HTTP_1_1 else None
        if line is None or line[1] != reason:
            check_reason(reason)
            line = (f"{response.version} {int(status)} {reason}\r\n", reason)
        parts = [line[0]]
        _encode_fields(parts, response.headers._fields)
        if extra:
            _encode_fields(parts, extra)
        parts.append("\r\n")
        self.write(_latin1("".join(parts), "response head"))

    def write_framed_response_head(
        self,
        response: Response,
        request_method: str,
        request_version: Version | None,
        body_size: int | None,
        persistent: bool,
    ) -> tuple[int, bool, bool]:
        """Frame ``response`` as a server sends it and copy its head.

        :func:`httpaf.model.response_head_framing` decides (``body_size`` is the size
        of a body given whole, ``persistent`` whether the exchange may keep the
        connection so far; :attr:`date`, when set, gives the ``Date`` of a response
        without one); the head goes out with the fields it adds. Returns ``(length,
        discard, persistent)``. ``ValueError`` (nothing written) for contradictory
        framing or invalid fields.
        """
        date = self.date
        length, discard, persistent, extra = response_head_framing(
            response,
            request_method,
            request_version,
            body_size,
            persistent,
            None if date is None else date.value,
        )
        self.write_response_head(response, extra)
        return length, discard, persistent

    def write_whole_response(
        self,
        response: Response,
        request: Request,
        body: bytes | bytearray | memoryview,
        persistent: bool,
        copy: bool = False,
    ) -> bool:
        """Frame ``response`` to ``request`` for the whole ``body``: head, then body.

        :meth:`write_framed_response_head` with ``request.method``,
        ``request.version`` and ``len(body)``, then the body unless the
        framing discards it: in one chunk and the last chunk if chunked; else copied
        when ``copy`` or when it is ``bytes`` of at most 2048 bytes (cheaper than a
        scheduled view beside its head, and unobservable since bytes cannot change),
        scheduled otherwise. Other buffers count in bytes; what is not a buffer
        raises ``TypeError``; a 1xx response (interim, never a whole response)
        ``ValueError``. Returns whether the connection may persist. Nothing is
        written if the head is refused or the body is not a buffer.
        """
        if response.status < 200:
            raise ValueError("1xx responses are sent by the connection, not the handler")
        if type(body) is not bytes and type(body) is not bytearray:
            # Any other buffer as flat bytes, so that ``len`` is its size in bytes;
            # what is not one fails here, before anything is written.
            body = _byte_view(body)
        size = len(body)
        if self._closed:
            raise StateError("cannot write to closed writer")
        length, discard, persistent = self.write_framed_response_head(
            response, request.method, request.version, size, persistent
        )
        if not discard:
            if length == CHUNKED:
                self.write_chunk(body, copy)
                self.write_last_chunk()
            elif copy or (size <= _COPY_LIMIT and type(body) is bytes):
                self.write(body)
            else:
                self.schedule(body)
        return persistent

    def write_request_head(self, request: Request) -> None:
        """Copy the request line and header fields, checked like a response head."""
        method, target = str(request.method), request.target
        if _TOKEN.fullmatch(method) is None:
            raise ValueError(f"invalid method: {method!r}")
        if _TARGET.fullmatch(target) is None:
            raise ValueError(f"invalid request target: {target!r}")
        parts = [f"{method} {target} {request.version}\r\n"]
        _encode_fields(parts, request.headers)
        parts.append("\r\n")
        self.write(_latin1("".join(parts), "request head"))

    def write_chunk(self, data: bytes | bytearray | memoryview, copy: bool = True) -> None:
        """One chunk: size line, ``data`` (copied, or scheduled if not ``copy``), CRLF.

        An empty ``data`` writes nothing, since a zero-size chunk ends the body.
        """
        n = data.nbytes if type(data) is memoryview else len(data)
        if n == 0:
            return
        self.write(b"%x\r\n" % n)
        if copy:
            self.write(data)
        else:
            self.schedule(data)
        self.write(_CRLF)

    def write_last_chunk(self, trailers: Headers | None = None) -> None:
        """The zero-size chunk, the trailer fields if any, and the final CRLF."""
        if not trailers:
            self.write(_LAST_CHUNK)
            return
        parts = ["0\r\n"]
        _encode_fields(parts, trailers)
        parts.append("\r\n")
        self.write(_latin1("".join(parts), "trailers"))

    # -- flushing and the runtime's side --------------------------------------------

    def flush(self, callback: Callback) -> None:
        """Call ``callback`` once every byte written so far is reported written."""
        self._flush_buffer()
        if not self._queue:
            callback()
        else:
            if self._flushed is None:
                self._flushed = deque()
            self._flushed.append((self._bytes_received, callback))

    def operation(self) -> list[memoryview]:
        """The iovecs to write now, in order; empty when there is nothing to write.

        With nothing pending, :attr:`is_closed` tells whether to close or to wait.
        """
        self._flush_buffer()
        return list(self._queue)

    def take(self, limit: int) -> bytes | None:
        """All pending output as one ``bytes``, reported written at once.

        For runtimes whose transport accepts whatever it is given (asyncio's): one
        object to hand over instead of iovecs, copied since the buffers are reused.
        ``None`` when nothing is pending, when more than ``limit`` bytes are, or when
        a flush callback waits (it must run after the bytes reach the transport): then
        use :meth:`operation` and :meth:`shift`.
        """
        if self._flushed:
            return None  # its callbacks must run once the bytes reach the transport
        queue = self._queue
        if not queue:
            # Only copied bytes (the usual head and small body): one copy out.
            start, end = self._scheduled_pos, self._write_pos
            if start == end or end - start > limit:
                return None
            data = bytes(self._buffer[start:end])  # type: ignore[index]
            self._release()
            self._bytes_received += end - start
            self._bytes_written += end - start
            return data
        self._flush_buffer()
        total = sum(map(len, queue))
        if total > limit or not all(view.c_contiguous for view in queue):
            return None  # (a strided view someone scheduled: the iovec path copes)
        data = b"".join(queue)
        self.shift(total)
        return data

    def shift(self, n: int) -> None:
        """Drop the first ``n`` queued bytes (reported written) and fire callbacks."""
        if n < 0:
            raise ValueError(f"cannot shift by a negative number: {n}")
        queue = self._queue
        if n and (not queue or n > len(queue[0])) and n > sum(map(len, queue)):
            raise ValueError("shift past the end of the pending output")
        self._bytes_written += n
        while n:
            head = queue[0]
            size = len(head)
            if n < size:
                queue[0] = head[n:]
                break
            del queue[0]
            n -= size
        if not queue and self._scheduled_pos == self._write_pos and self._buffer is not None:
            # Everything handed out has been written: the buffer can go back.
            self._release()
        flushed = self._flushed
        written = self._bytes_written
        while flushed and flushed[0][0] <= written:
            flushed.popleft()[1]()

    def close(self) -> None:
        """Refuse further writes; what is pending is still handed out."""
        self._closed = True
        self._flush_buffer()

    def drain(self) -> int:
        """Close, drop everything pending, fire every callback; return bytes dropped."""
        self.close()
        dropped = sum(map(len, self._queue))
        if dropped:
            self.shift(dropped)
        flushed = self._flushed
        while flushed:
            flushed.popleft()[1]()
        return dropped
