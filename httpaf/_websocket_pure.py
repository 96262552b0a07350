"""The WebSocket frame codec (RFC 6455 §5), in pure Python: the readable specification.

The twin of ``_websocket.pyx`` (same names, results and errors; the tests run both
and a hypothesis test compares them on random frames, fragmentations and splits):

- :class:`FrameReader` reads frames from a byte stream: it parses frame heads,
  enforces the framing rules (opcodes, RSV bits, masking per role, control frames,
  the order of fragments, frame and message size limits), unmasks payloads and
  assembles messages, and validates the UTF-8 of uncompressed text as it arrives,
  failing on the first byte that cannot start or continue a valid sequence;
- :func:`frame_header` and :func:`encode_frame` write frames;
- :func:`mask` masks (or unmasks: the same XOR) a writable buffer in place.

Errors are :class:`~httpaf.model.websocket.FrameError` with the close code the
connection fails with (1002, 1007, 1009). What the codec does not know stays with the
protocol layer (:mod:`httpaf.websocket`): close frame payloads, decompression, what a
message means.
"""

from __future__ import annotations

import codecs
import struct

from httpaf.model import FrameError

__all__ = [
    "NOTHING",
    "MESSAGE",
    "CONTROL",
    "FrameReader",
    "encode_frame",
    "frame_header",
    "mask",
]

#: :meth:`FrameReader.read` results: no complete message or control frame yet,
NOTHING = 0
#: a data message is complete (:meth:`FrameReader.take_message`),
MESSAGE = 1
#: a control frame is complete (:attr:`FrameReader.opcode`, :attr:`FrameReader.payload`).
CONTROL = 2

# RFC 6455 §5.2 reasons, shared word for word with the Cython twin.
_RESERVED_OPCODE = "reserved opcode"
_RESERVED_BITS = "reserved bits set"
_UNMASKED = "client frame not masked"
_MASKED = "server frame masked"
_FRAGMENTED_CONTROL = "fragmented control frame"
_LONG_CONTROL = "control frame payload over 125 bytes"
_LENGTH_RANGE = "frame length over 2**63 - 1"
_NON_MINIMAL = "frame length not in its minimal encoding"
_NO_MESSAGE = "continuation frame outside a fragmented message"
_IN_MESSAGE = "new data frame inside a fragmented message"
_FRAME_TOO_BIG = "frame too big"
_MESSAGE_TOO_BIG = "message too big"
_INVALID_UTF8 = "invalid UTF-8 in text"

_TEXT = 0x1
_BINARY = 0x2
_MAX_LENGTH = (1 << 63) - 1


def _xor(data: bytes, key: bytes, phase: int) -> bytes:
    """``data`` XOR the 4-byte ``key`` repeated, starting at key byte ``phase``."""
    n = len(data)
    if not n:
        return data
    if phase:
        key = key[phase:] + key[:phase]
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little"
    )


def mask(buf: bytearray | memoryview, key: bytes, phase: int = 0) -> None:
    """XOR the writable ``buf`` in place with ``key`` (4 bytes), from key byte ``phase``.

    Masking and unmasking are the same operation (RFC 6455 §5.3).
    """
    if len(key) != 4:
        raise ValueError("a masking key is 4 bytes")
    view = memoryview(buf).cast("B")
    if view.readonly:
        raise TypeError("mask() needs a writable buffer")
    view[:] = _xor(bytes(view), bytes(key), phase & 3)


def frame_header(
    opcode: int,
    length: int,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """The head of a frame of ``length`` payload bytes (lengths in minimal encoding).

    Raises ``ValueError`` for what no endpoint may send: an opcode outside 0-15, a
    negative or too large length, a fragmented or long (over 125 bytes) control
    frame, a masking key that is not 4 bytes.
    """
    if not 0 <= opcode <= 15:
        raise ValueError(f"opcode out of range: {opcode}")
    if not 0 <= length <= _MAX_LENGTH:
        raise ValueError(f"frame length out of range: {length}")
    if opcode >= 8 and (length > 125 or not fin):
        raise ValueError("a control frame is final and carries at most 125 bytes")
    b0 = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    bit = 0 if mask_key is None else 0x80
    if length < 126:
        head = bytes((b0, bit | length))
    elif length < 65536:
        head = struct.pack("!BBH", b0, bit | 126, length)
    else:
        head = struct.pack("!BBQ", b0, bit | 127, length)
    if mask_key is None:
        return head
    if len(mask_key) != 4:
        raise ValueError("a masking key is 4 bytes")
    return head + bytes(mask_key)


def encode_frame(
    opcode: int,
    payload: bytes | bytearray | memoryview,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """A whole frame: its head and ``payload``, masked with ``mask_key`` if given."""
    data = bytes(payload)
    head = frame_header(opcode, len(data), fin, rsv1, mask_key)
    if mask_key is None:
        return head + data
    return head + _xor(data, bytes(mask_key), 0)


def _valid_prefix(pending: bytes) -> bool:
    """Whether ``pending``, an unfinished UTF-8 sequence, can still become valid.

    RFC 3629 §4: after E0 comes A0-BF, after ED 80-9F (no surrogates), after F0 90-BF,
    after F4 80-8F (nothing over U+10FFFF); any other continuation is 80-BF. Python's
    incremental decoder holds back an unfinished sequence without checking all of
    this (it waits for ED A0 80 to refuse a surrogate), so it is checked here.
    """
    lead = pending[0]
    if len(pending) < 2:
        return 0xC2 <= lead <= 0xF4
    second = pending[1]
    if lead == 0xE0:
        return 0xA0 <= second <= 0xBF
    if lead == 0xED:
        return 0x80 <= second <= 0x9F
    if lead == 0xF0:
        return 0x90 <= second <= 0xBF
    if lead == 0xF4:
        return 0x80 <= second <= 0x8F
    return 0x80 <= second <= 0xBF


_Decoder = codecs.getincrementaldecoder("utf-8")


class FrameReader:
    """Reads frames from a stream of bytes and assembles messages (RFC 6455 §5).

    ``client`` is the role of the endpoint reading: a server requires masked frames,
    a client unmasked ones. Frames over ``max_frame_size`` payload bytes, and
    messages over ``max_message_size`` (their frames' payloads added up), fail with
    1009. :attr:`rsv1_allowed` lets the first frame of a data message set RSV1 (a
    negotiated permessage-deflate, RFC 7692 §6); other RSV bits always fail.
    """

    def __init__(self, client: bool, max_frame_size: int, max_message_size: int) -> None:
        #: The endpoint reading is a client (its peer's frames are not masked).
        self.client = bool(client)
        #: Largest frame payload accepted.
        self.max_frame_size = max_frame_size
        #: Largest message accepted (its frames' payloads added up).
        self.max_message_size = max_message_size
        #: Whether RSV1 may be set on the first frame of a data message.
        self.rsv1_allowed = False
        #: Bytes at ``start`` that the last :meth:`read` used up.
        self.consumed = 0
        #: After ``MESSAGE``: the message's opcode (1 text, 2 binary); after
        #: ``CONTROL``: the frame's (8 close, 9 ping, 10 pong).
        self.opcode = 0
        #: After ``MESSAGE``: whether the message's first frame had RSV1 set.
        self.compressed = False
        #: After ``CONTROL``: the frame's payload, unmasked.
        self.payload = b""
        # The frame being read: its opcode, FIN, mask and payload bytes to come.
        self._in_frame = False
        self._frame_opcode = 0
        self._fin = False
        self._key = b""
        self._phase = 0
        self._remaining = 0
        # The data message being read.
        self._in_message = False
        self._message_opcode = 0
        self._message_compressed = False
        self._size = 0  # payload bytes of the message so far
        self._validate = False  # uncompressed text: UTF-8 checked as it arrives
        self._decoder = _Decoder()
        self._pieces: list[bytes] = []  # binary or compressed payload
        self._text: list[str] = []  # validated text
        self._control: list[bytes] = []

    @property
    def in_message(self) -> bool:
        """Whether a fragmented data message has started and not finished."""
        return self._in_message

    def read(
        self, buf: bytes | bytearray | memoryview, start: int = 0, end: int | None = None
    ) -> int:
        """Read frames from ``buf[start:end]`` up to the end of a message or control frame.

        Returns ``MESSAGE``, ``CONTROL`` or ``NOTHING`` (the bytes ran out first); sets
        :attr:`consumed`. A frame head split across calls is not consumed (present it
        again with more bytes); payload bytes are consumed as they come. Raises
        :class:`FrameError` on the first rule broken.
        """
        end = len(buf) if end is None else min(end, len(buf))
        pos = start
        while True:
            if not self._in_frame:
                used = self._read_head(buf, pos, end)
                if not used:
                    break
                pos += used
            n = self._remaining if self._remaining < end - pos else end - pos
            if n:
                chunk = bytes(buf[pos : pos + n])
                if self._key:
                    chunk = _xor(chunk, self._key, self._phase)
                    self._phase = (self._phase + n) & 3
                self._take(chunk)
                pos += n
                self._remaining -= n
            if self._remaining:
                break
            self._in_frame = False
            if self._frame_opcode >= 8:
                self.opcode = self._frame_opcode
                self.payload = b"".join(self._control)
                self._control = []
                self.consumed = pos - start
                return CONTROL
            if self._fin:
                self._end_message()
                self.consumed = pos - start
                return MESSAGE
        self.consumed = pos - start
        return NOTHING

    def take_message(self) -> str | bytes:
        """The message completed by the last ``MESSAGE``, once.

        A ``str`` for uncompressed text (already validated), else the ``bytes`` of
        the payload (compressed ones still compressed).
        """
        if self._text:
            text = "".join(self._text)
            self._text = []
            return text
        if self.opcode == _TEXT and not self.compressed:
            return ""
        pieces = self._pieces
        self._pieces = []
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    # -- frame heads -----------------------------------------------------------------

    def _read_head(self, buf: bytes | bytearray | memoryview, pos: int, end: int) -> int:
        """Parse the frame head at ``pos``: its length, or 0 if it is incomplete."""
        avail = end - pos
        if avail < 2:
            return 0
        b0 = buf[pos]
        b1 = buf[pos + 1]
        length = b1 & 0x7F
        size = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if b1 & 0x80 else 0)
        if avail < size:
            return 0
        opcode = b0 & 0x0F
        fin = bool(b0 & 0x80)
        if 3 <= opcode <= 7 or opcode >= 11:
            raise FrameError(1002, _RESERVED_OPCODE)
        rsv = b0 & 0x70
        if rsv and not (
            rsv == 0x40 and self.rsv1_allowed and (opcode == _TEXT or opcode == _BINARY)
        ):
            raise FrameError(1002, _RESERVED_BITS)
        if bool(b1 & 0x80) == self.client:
            raise FrameError(1002, _MASKED if self.client else _UNMASKED)
        if opcode >= 8:
            if not fin:
                raise FrameError(1002, _FRAGMENTED_CONTROL)
            if length > 125:
                raise FrameError(1002, _LONG_CONTROL)
        at = pos + 2
        if length == 126:
            length = (buf[at] << 8) | buf[at + 1]
            at += 2
            if length < 126:
                raise FrameError(1002, _NON_MINIMAL)
        elif length == 127:
            length = int.from_bytes(bytes(buf[at : at + 8]), "big")
            at += 8
            if length > _MAX_LENGTH:
                raise FrameError(1002, _LENGTH_RANGE)
            if length < 65536:
                raise FrameError(1002, _NON_MINIMAL)
        if opcode < 8:
            if opcode == 0:
                if not self._in_message:
                    raise FrameError(1002, _NO_MESSAGE)
            elif self._in_message:
                raise FrameError(1002, _IN_MESSAGE)
        if length > self.max_frame_size:
            raise FrameError(1009, _FRAME_TOO_BIG)
        if opcode < 8:
            size_so_far = self._size if opcode == 0 else 0
            if size_so_far + length > self.max_message_size:
                raise FrameError(1009, _MESSAGE_TOO_BIG)
            if opcode:
                self._start_message(opcode, bool(rsv))
            self._size = size_so_far + length
        self._key = bytes(buf[at : at + 4]) if b1 & 0x80 else b""
        self._phase = 0
        self._frame_opcode = opcode
        self._fin = fin
        self._remaining = length
        self._in_frame = True
        return size

    # -- payloads --------------------------------------------------------------------

    def _start_message(self, opcode: int, compressed: bool) -> None:
        self._in_message = True
        self._message_opcode = opcode
        self._message_compressed = compressed
        self._validate = opcode == _TEXT and not compressed
        self._pieces = []
        self._text = []
        if self._validate:
            self._decoder.reset()

    def _take(self, chunk: bytes) -> None:
        """Keep payload bytes of the current frame (and check text as it comes)."""
        if self._frame_opcode >= 8:
            self._control.append(chunk)
        elif self._validate:
            decoder = self._decoder
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                raise FrameError(1007, _INVALID_UTF8) from None
            pending = decoder.getstate()[0]
            if pending and not _valid_prefix(pending):
                raise FrameError(1007, _INVALID_UTF8)
            if text:
                self._text.append(text)
        else:
            self._pieces.append(chunk)

    def _end_message(self) -> None:
        if self._validate and self._decoder.getstate()[0]:
            raise FrameError(1007, _INVALID_UTF8)  # a sequence cut by the message's end
        self._in_message = False
        self.opcode = self._message_opcode
        self.compressed = self._message_compressed
