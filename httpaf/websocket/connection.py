"""The WebSocket connection (RFC 6455 §5-§7) as a state machine: no I/O, no clock.

It starts where the opening handshake ended (see :mod:`.handshake`): a runtime feeds
it the bytes it reads and writes the bytes it hands out, exactly as for the HTTP
engine (``docs/state-machine.md``):

- ``read(buf, off, length)`` returns how many bytes it consumed (an incomplete frame
  head is left for the next call, presented again with new bytes); what the bytes
  meant is taken with :meth:`WebSocketConnection.events`: each message as the
  ``str`` (text) or ``bytes`` (binary) it carries, :class:`~.events.Ping`,
  :class:`~.events.Pong`, and a last :class:`~.events.Close`. ``read_eof`` at the
  end of input.
- ``next_write_operation()`` is a ``Write`` of iovecs (report the bytes written with
  ``report_write_result``), ``YIELD`` (call back through ``yield_writer``), or
  ``Closed`` once the closing handshake is over or the connection failed: then the
  runtime closes the transport. ``take_output()`` gives what is queued as one
  ``bytes`` instead.

Pings are answered, a close frame is echoed (§5.5.1), a peer that breaks the rules
is sent the close code the RFC names (1002, 1007, 1009) and its messages after that
are not read. Timers (keep-alive pings, waiting for the peer's close frame) belong
to the runtime.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from httpaf.model import (
    CLOSE,
    READ,
    YIELD,
    Closed,
    FrameError,
    StateError,
    Write,
    is_valid_close_code,
)
from httpaf.model.websocket import (
    ABNORMAL_CLOSURE,
    BINARY,
    CLOSE_FRAME,
    INVALID_PAYLOAD,
    NO_STATUS_RECEIVED,
    PING,
    PONG,
    PROTOCOL_ERROR,
    TEXT,
)

# Absolute imports: the compiled build of this module lives in _compiled/, where
# these plain modules are not (see _compiled/__init__.py).
from httpaf.websocket.config import WebSocketConfig
from httpaf.websocket.deflate import PerMessageDeflate
from httpaf.websocket.events import Close, Ping, Pong
from httpaf.wire import CONTROL, MESSAGE, FrameReader, encode_frame, frame_header

__all__ = ["WebSocketConnection", "random_mask_keys"]

Event = str | bytes | Ping | Pong | Close

# Payloads up to this size are copied behind their frame head (one write); larger
# ones are written from the application's own bytes (zero-copy).
_COPY_LIMIT = 4096


def random_mask_keys() -> Callable[[], bytes]:
    """Masking keys from the system's strong random source, drawn 4 KiB at a time
    (RFC 6455 §5.3: a client's keys must be unpredictable)."""
    pool = b""
    at = 0

    def next_key() -> bytes:
        nonlocal pool, at
        if at >= len(pool):
            pool, at = os.urandom(4096), 0
        at += 4
        return pool[at - 4 : at]

    return next_key


def _close_payload(code: int | None, reason: str) -> bytes:
    """A close frame's payload (§5.5.1), checked: ``ValueError`` if none can be sent."""
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent")
    data = reason.encode()
    if len(data) > 123:
        raise ValueError("a close reason is at most 123 bytes of UTF-8")
    return code.to_bytes(2, "big") + data


class WebSocketConnection:
    """One side of an open WebSocket connection (``client`` says which).

    ``deflate`` is the permessage-deflate the handshake agreed to, if any;
    ``mask_key`` makes a client's masking keys (strong random ones by default).
    """

    __slots__ = (
        "client",
        "config",
        "deflate",
        "error",
        "close_code",
        "close_reason",
        "_reader",
        "_events",
        "_out",
        "_queued",
        "_mask_key",
        "_sending",
        "_sending_compressed",
        "close_sent",
        "close_received",
        "_read_done",
        "_failed",
        "_write_done",
        "_wakeup",
        "_max_message",
        "_max_output",
    )

    def __init__(
        self,
        client: bool = False,
        config: WebSocketConfig | None = None,
        deflate: PerMessageDeflate | None = None,
        mask_key: Callable[[], bytes] | None = None,
    ) -> None:
        config = config if config is not None else WebSocketConfig()
        #: Whether this is the client side.
        self.client = client
        self.config = config
        #: The negotiated permessage-deflate, if any.
        self.deflate = deflate
        #: The :class:`FrameError` the peer caused, if it did.
        self.error: FrameError | None = None
        #: Once reading is over: the close code (see :class:`~.events.Close`).
        self.close_code: int | None = None
        #: Once reading is over: the close reason.
        self.close_reason = ""
        reader = FrameReader(client, config.frame_limit, config.max_message_size)
        reader.rsv1_allowed = deflate is not None
        self._reader = reader
        self._events: list[Event] = []
        self._out: list[bytes | memoryview] = []  # frames waiting to be written
        self._queued = 0  # their bytes
        self._mask_key = (mask_key or random_mask_keys()) if client else None
        self._sending = 0  # opcode of a message sent in fragments, until its last
        self._sending_compressed = False  # ... and whether it is compressed
        #: Whether our close frame is queued (no more messages may be sent).
        self.close_sent = False
        #: Whether the peer's close frame has arrived.
        self.close_received = False
        self._read_done = False  # a close frame came, the peer failed, or input ended
        self._failed = False  # no closing handshake to wait for: close once written
        self._write_done = False  # the transport is gone, or Closed was returned
        self._wakeup: Callable[[], None] | None = None
        self._max_message = config.max_message_size
        self._max_output = config.max_queued_output

    # -- state ---------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """Whether both sides are done (the runtime closes the transport)."""
        return self._read_done and self._write_done

    @property
    def buffered_amount(self) -> int:
        """Bytes queued and not yet reported written."""
        return self._queued

    # -- reading -------------------------------------------------------------------

    def next_read_operation(self) -> object:
        """``READ`` until reading is over, then ``CLOSE``."""
        return CLOSE if self._read_done else READ

    def read(self, buf: bytes | bytearray | memoryview, off: int = 0, length: int = -1) -> int:
        """Read frames from ``buf[off:off+length]``; return the bytes consumed.

        Reading stops after each message or control frame, so that a runtime can act
        on it (answer, echo) before the next frame is read: call again with the rest
        while :meth:`events` gives something. Once reading is over, every byte is
        consumed and ignored (§5.5.1: nothing after a close frame is data).
        """
        end = len(buf) if length < 0 else off + length
        if self._read_done:
            return end - off
        reader = self._reader
        try:
            kind = reader.read(buf, off, end)
        except FrameError as error:
            self._fail(error)
            return end - off
        if kind == MESSAGE:
            self._message(reader.take_message())
        elif kind == CONTROL:
            self._control(reader.opcode, reader.payload)
            if self._read_done:
                return end - off
        return reader.consumed

    def read_eof(self, buf: bytes | bytearray | memoryview, off: int = 0, length: int = -1) -> int:
        """Read the last bytes; the peer sent all it will (§7.1.5: 1006 without a
        close frame)."""
        consumed = self.read(buf, off, length)
        if not self._read_done:
            self._read_done = True
            self._failed = True
            self._end(ABNORMAL_CLOSURE, "", False)
        return consumed

    def events(self) -> list[Event]:
        """The events read since the last call, in order."""
        events = self._events
        if events:
            self._events = []
        return events

    def _message(self, data: str | bytes) -> None:
        reader = self._reader
        if reader.compressed:
            deflate = self.deflate
            if deflate is None:  # (the reader lets RSV1 through only with deflate)
                raise StateError("a compressed message without permessage-deflate")
            try:
                raw = deflate.decompress(data, self._max_message)  # type: ignore[arg-type]
                data = raw.decode() if reader.opcode == TEXT else raw
            except FrameError as error:
                self._fail(error)
                return
            except UnicodeDecodeError:
                self._fail(FrameError(INVALID_PAYLOAD, "invalid UTF-8 in text"))
                return
        if not self.close_sent:  # after our close the application reads no more
            self._events.append(data)

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            if not self.close_sent:
                self._queue_control(PONG, payload)
            self._events.append(Ping(payload))
        elif opcode == PONG:
            self._events.append(Pong(payload))
        elif opcode == CLOSE_FRAME:
            self._close_frame(payload)

    def _close_frame(self, payload: bytes) -> None:
        """The peer's close frame: check it, echo it, end reading (§5.5.1, §7.1.5)."""
        if not payload:
            code, reason = NO_STATUS_RECEIVED, ""
        elif len(payload) == 1:
            self._fail(FrameError(PROTOCOL_ERROR, "close frame payload of 1 byte"))
            return
        else:
            code = int.from_bytes(payload[:2], "big")
            if not is_valid_close_code(code):
                self._fail(FrameError(PROTOCOL_ERROR, "invalid close code"))
                return
            try:
                reason = payload[2:].decode()
            except UnicodeDecodeError:
                self._fail(FrameError(INVALID_PAYLOAD, "invalid UTF-8 in close reason"))
                return
        self.close_received = True
        if not self.close_sent:
            self.close_sent = True
            echo = b"" if code == NO_STATUS_RECEIVED else code.to_bytes(2, "big")
            self._queue_control(CLOSE_FRAME, echo)
        self._read_done = True
        self._end(code, reason, True)

    def _fail(self, error: FrameError) -> None:
        """Fail the connection (§7.1.7): send the close code, read no more."""
        self.error = error
        if not self.close_sent:
            self.close_sent = True
            self._queue_control(CLOSE_FRAME, _close_payload(error.code, error.reason[:123]))
        self._read_done = True
        self._failed = True
        self._end(error.code, error.reason, False)

    def _end(self, code: int, reason: str, received: bool) -> None:
        self.close_code = code
        self.close_reason = reason
        self._events.append(Close(code, reason, received))
        self._wake()

    # -- sending -------------------------------------------------------------------

    def send(self, data: str | bytes | bytearray | memoryview, final: bool = True) -> None:
        """Send a message: text for a ``str``, binary otherwise.

        ``final=False`` sends a fragment; the message goes on with the next calls
        (of the same type) until one with ``final=True``. Raises ``StateError`` once
        our close frame is queued, or while more than ``max_queued_output`` bytes
        wait to be written.
        """
        if isinstance(data, str):
            self._send(TEXT, data.encode(), final)
        else:
            self._send(BINARY, data, final)

    def send_text(self, text: str, final: bool = True) -> None:
        """Send a text message (or fragment: see :meth:`send`)."""
        self._send(TEXT, text.encode(), final)

    def send_bytes(self, data: bytes | bytearray | memoryview, final: bool = True) -> None:
        """Send a binary message (or fragment: see :meth:`send`)."""
        self._send(BINARY, data, final)

    def _send(self, opcode: int, data: bytes | bytearray | memoryview, final: bool) -> None:
        self._check_can_send()
        sending = self._sending
        deflate = self.deflate
        if sending:
            if sending != opcode:
                raise StateError("the fragmented message being sent is of the other type")
            frame_opcode = 0
            compress = self._sending_compressed
            rsv1 = False
        else:
            frame_opcode = opcode
            compress = rsv1 = deflate is not None and len(data) >= deflate.min_size
        if compress:
            data = deflate.compress(data, final)  # type: ignore[union-attr]
        if final:
            self._sending = 0
        else:
            self._sending = opcode
            self._sending_compressed = compress
        self._frame(frame_opcode, data, final, rsv1)

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping (at most 125 bytes of payload)."""
        self._check_can_send()
        self._queue_control(PING, bytes(payload))

    def pong(self, payload: bytes = b"") -> None:
        """Send an unsolicited pong (a heartbeat: §5.5.3)."""
        self._check_can_send()
        self._queue_control(PONG, bytes(payload))

    def close(self, code: int | None = 1000, reason: str = "") -> None:
        """Start the closing handshake (or answer it): send a close frame, once.

        ``code=None`` sends one without a code. Later calls do nothing.
        """
        payload = _close_payload(code, reason)
        if self.close_sent or self._write_done:
            return
        self.close_sent = True
        self._queue_control(CLOSE_FRAME, payload)

    def _check_can_send(self) -> None:
        if self.close_sent or self._write_done:
            raise StateError("the WebSocket is closing or closed")
        if self._queued > self._max_output:
            raise StateError("too much output waiting to be written")

    def _queue_control(self, opcode: int, payload: bytes) -> None:
        if len(payload) > 125:
            raise ValueError("a control frame carries at most 125 bytes")
        self._frame(opcode, payload, True, False)

    def _frame(
        self, opcode: int, data: bytes | bytearray | memoryview, fin: bool, rsv1: bool
    ) -> None:
        """Queue one frame."""
        if self._write_done:
            return
        mask_key = self._mask_key
        if mask_key is not None:
            frame: bytes | memoryview = encode_frame(opcode, data, fin, rsv1, mask_key())
        elif len(data) <= _COPY_LIMIT:
            frame = encode_frame(opcode, data, fin, rsv1)
        else:
            # Large: the head, then the payload itself (copied if it could change).
            head = frame_header(opcode, len(data), fin, rsv1)
            self._out.append(head)
            self._queued += len(head)
            frame = data if type(data) is bytes else bytes(data)
        self._out.append(frame)
        self._queued += len(frame)
        self._wake()

    # -- writing -------------------------------------------------------------------

    def next_write_operation(self) -> object:
        """``Write`` what is queued, else ``Closed`` once done, else ``YIELD``."""
        if self._write_done:
            return Closed(0)
        if self._out:
            return Write(self._out)  # type: ignore[arg-type]
        if self._failed or (self.close_sent and self.close_received):
            self._write_done = True
            return Closed(0)
        return YIELD

    def take_output(self) -> bytes | None:
        """Everything queued as one ``bytes`` (reported written), or ``None``."""
        out = self._out
        if not out or self._write_done:
            return None
        data = out[0] if len(out) == 1 and type(out[0]) is bytes else b"".join(out)
        self._out = []
        self._queued = 0
        return data

    def report_write_result(self, result: int | object) -> None:
        """``n`` bytes of the last ``Write`` went out, or ``CLOSE``: the transport is gone."""
        if result is CLOSE:
            self._write_done = True
            self._out = []
            self._queued = 0
            if not self._read_done:
                self._read_done = True
                self._end(ABNORMAL_CLOSURE, "", False)
            return
        n: int = result  # type: ignore[assignment]  # (not CLOSE: a byte count)
        out = self._out
        self._queued -= n
        while n and out:
            first = out[0]
            if len(first) <= n:
                n -= len(first)
                out.pop(0)
            else:
                out[0] = memoryview(first)[n:]
                n = 0

    def yield_writer(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when there is something to write (or to close)."""
        self._wakeup = callback

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup()
