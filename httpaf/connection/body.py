"""Message bodies: :class:`BodyReader` for incoming ones, :class:`BodyWriter` for outgoing.

A reader is pull-based, as in http/af: the application schedules one read at a time and
gets either a piece of the body or the end. A writer frames what it is given (identity
or chunked) straight into the connection's serializer and checks it against the
message's declared length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from httpaf.model import CHUNKED, CLOSE_DELIMITED, BodyLengthError, Headers, StateError
from httpaf.wire import Serializer

__all__ = ["BodyReader", "BodyWriter", "OnRead", "OnEof", "byte_view"]

OnRead = Callable[[memoryview], None]
OnEof = Callable[[], None]
Callback = Callable[[], None]


def _ignore() -> None:
    return None


def byte_view(data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """``data`` as something whose ``len`` is its size in bytes.

    ``bytes`` and ``bytearray`` as they are; any other buffer as a flat memoryview of
    bytes (a memoryview of wider items, ``array('I')`` or numpy, has ``len`` = item
    count: framing a body with that would declare fewer bytes than are sent). A
    strided view is copied. ``TypeError`` for what is not a buffer (a ``str``, a
    list), before anything is written.
    """
    if type(data) is bytes or type(data) is bytearray:
        return data
    view = data if type(data) is memoryview else memoryview(data)
    if view.c_contiguous and view.itemsize == 1 and view.ndim == 1 and view.format == "B":
        return view
    # A strided view cannot be written as one piece: copy it.
    return view.cast("B") if view.c_contiguous else memoryview(view.tobytes())


class BodyReader:
    """The body of a message being received.

    Pieces reach ``on_read`` as memoryviews that may point into the runtime's read
    buffer: use or copy them before the callback returns.
    """

    __slots__ = (
        "_on_read",
        "_on_eof",
        "_pieces",
        "_buffered",
        "_eof",
        "_closed",
        "trailers",
        "_on_schedule",
        "_first_read",
        "_error",
    )

    def __init__(self, on_schedule: Callback = _ignore, on_first_read: Callback = _ignore) -> None:
        self._on_read: OnRead | None = None
        self._on_eof: OnEof | None = None
        self._pieces: deque[bytes] = deque()
        self._buffered = 0
        self._eof = False  # the parser saw the end of the body
        self._closed = False  # the application closed the reader
        #: Trailer fields of a chunked body, once it has ended (``None`` if none).
        self.trailers: Headers | None = None
        self._on_schedule = on_schedule  # the connection may resume reading
        self._first_read = on_first_read  # e.g. send 100 Continue
        self._error: BaseException | None = None  # why the body will never end (fail)

    @classmethod
    def empty(cls) -> BodyReader:
        """A reader of a body with no bytes, already at its end."""
        reader = cls()
        reader._eof = True
        return reader

    @property
    def is_closed(self) -> bool:
        """Whether the body ended or the application closed the reader."""
        return self._closed or self._eof

    @property
    def is_complete(self) -> bool:
        """Whether the whole body was received (or the reader was closed), not failed."""
        return (self._eof or self._closed) and self._error is None

    @property
    def at_eof(self) -> bool:
        """Whether the whole body was received (closing the reader does not count)."""
        return self._eof

    @property
    def error(self) -> BaseException | None:
        """Why the body stopped short (:meth:`fail`), or ``None``."""
        return self._error

    @property
    def is_read_scheduled(self) -> bool:
        """Whether a read is pending."""
        return self._on_read is not None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet handed to the application."""
        return self._buffered

    def schedule_read(self, on_read: OnRead, on_eof: OnEof) -> None:
        """Ask for the next piece of the body (``on_read``) or its end (``on_eof``).

        Either may be called at once if data or the end is already there. Each call
        of this method yields at most one callback.
        """
        if self._on_read is not None:
            raise StateError("Body.Reader.schedule_read: reader already scheduled")
        if self._error is not None:
            raise self._error
        if self._first_read is not _ignore:
            first, self._first_read = self._first_read, _ignore
            first()
        if self._pieces:
            self._deliver_buffered(on_read)
            self._on_schedule()  # the buffer was emptied: reading may resume
        elif self._eof or self._closed:
            on_eof()
        else:
            self._on_read = on_read
            self._on_eof = on_eof
            self._on_schedule()

    def close(self) -> None:
        """Stop reading: the rest of the body is discarded as it arrives."""
        if self._closed:
            return
        self._closed = True
        self._pieces.clear()
        self._buffered = 0
        self._run_eof()

    # -- the connection's side -----------------------------------------------------

    def fail(self, error: BaseException) -> None:
        """The body will never end: a short body is not a complete one.

        What is buffered is dropped and a pending read is dropped unanswered (neither
        callback runs: the connection tells the message's error handler instead);
        :meth:`schedule_read` then raises ``error``. A body that ended, or a reader the
        application closed, is left as it is.
        """
        if self._eof or self._closed:
            return
        self._error = error
        self._closed = True
        self._pieces.clear()
        self._buffered = 0
        self._on_read = self._on_eof = None

    def _deliver_buffered(self, on_read: OnRead) -> None:
        """Hand every buffered byte over as one piece.

        One piece, not one per read: an application that schedules its next read from
        ``on_read`` would otherwise recurse once per buffered piece, and a peer
        dribbling a body byte by byte could make that deep enough to overflow.
        """
        pieces = self._pieces
        piece = pieces.popleft() if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        self._buffered = 0
        on_read(memoryview(piece))

    def _run_eof(self) -> None:
        on_eof = self._on_eof
        if on_eof is not None:
            self._on_read = self._on_eof = None
            on_eof()

    def feed(self, data: memoryview) -> None:
        """Body bytes from the parser: straight to a pending read, else buffered."""
        if self._closed:
            return
        on_read = self._on_read
        if on_read is not None and not self._pieces:
            self._on_read = self._on_eof = None
            on_read(data)  # zero-copy: data points into the read buffer
        else:
            self._pieces.append(bytes(data))
            self._buffered += len(data)

    def finish(self, trailers: Headers | None = None) -> None:
        """The parser reached the end of the body."""
        self._eof = True
        self.trailers = trailers
        if not self._pieces:
            self._run_eof()


class BodyWriter:
    """The body of a message being sent, framed into the connection's serializer.

    ``length`` is a byte count (checked: more is :class:`BodyLengthError`, fewer at
    :meth:`close` ends the connection), :data:`~httpaf.message.CHUNKED`, or
    :data:`~httpaf.message.CLOSE_DELIMITED`. With ``discard`` (HEAD, 1xx, 204, 304)
    writes are accepted and dropped: such responses never carry body bytes.
    """

    __slots__ = ("_serializer", "_length", "_remaining", "_discard", "_on_close", "_closed")

    def __init__(
        self,
        serializer: Serializer,
        length: int,
        on_close: Callable[[bool], None],
        discard: bool = False,
    ) -> None:
        self._serializer = serializer  # its wakeup wakes the connection's writer
        self._length = length
        self._remaining = length if length >= 0 else -1
        self._discard = discard
        # Told whether the peer can find the body's end without the connection closing.
        self._on_close = on_close
        self._closed = False

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def is_chunked(self) -> bool:
        """Whether the body goes out in chunks."""
        return self._length == CHUNKED

    def _check(self, n: int) -> bool:
        """Whether ``n`` bytes go out; raise if they do not fit."""
        if self._closed:
            raise StateError("cannot write to closed writer")
        if self._discard or n == 0:
            return False
        remaining = self._remaining
        if remaining >= 0:
            if n > remaining:
                raise BodyLengthError(
                    f"body write of {n} bytes exceeds the {remaining} left of Content-Length"
                )
            self._remaining = remaining - n
        return True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` into the body. Does not wake the writer: :meth:`flush` does."""
        data = byte_view(data)
        if self._check(len(data)):
            if self._length == CHUNKED:
                self._serializer.write_chunk(data)
            else:
                self._serializer.write(data)

    def write_string(self, text: str, encoding: str = "utf-8") -> None:
        """Encode ``text`` and copy it into the body."""
        self.write(text.encode(encoding))

    def schedule(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` without copying; leave it alone until a flush callback runs."""
        data = byte_view(data)
        if self._check(len(data)):
            if self._length == CHUNKED:
                self._serializer.write_chunk(data, copy=False)
            else:
                self._serializer.schedule(data)

    def mark_sent(self, n: int) -> None:
        """Count ``n`` body bytes that the runtime wrote to the transport itself.

        For zero-copy file sends (``sendfile``), after a :meth:`flush` whose callback
        said that everything before them was written. Checked against the declared
        length like a write; a chunked body cannot be sent this way.
        """
        if self._length == CHUNKED:
            raise StateError("a chunked body cannot be sent around the serializer")
        self._check(n)

    def flush(self, callback: Callback | None = None) -> None:
        """Send what was written; call ``callback`` once it is all written out."""
        if callback is not None:
            self._serializer.flush(callback)
        self._serializer.wakeup()

    def abort(self) -> None:
        """Stop the body short, without a final chunk: the message stays incomplete."""
        if not self._closed:
            self._closed = True
            self._on_close(False)

    def close(self, trailers: Headers | None = None) -> None:
        """End the body (with trailer fields, for a chunked one) and send it."""
        if self._closed:
            return
        if trailers and self._length != CHUNKED and not self._discard:
            raise StateError("trailers need a chunked body")
        self._closed = True
        length = self._length
        if self._discard:
            delimited = True
        elif length == CHUNKED:
            # After the connection's writer closed (shutdown), closing is harmless
            # (http/af #217), but the body then lacks its final chunk.
            delimited = not self._serializer.is_closed
            if delimited:
                self._serializer.write_last_chunk(trailers)
        else:
            delimited = length != CLOSE_DELIMITED and self._remaining == 0
        self._on_close(delimited)
        self._serializer.wakeup()
