# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: auto_pickle=False, autotestdict=False
"""The WebSocket frame codec (RFC 6455 §5), in Cython (fields declared in _websocket.pxd).

The twin of ``_websocket_pure.py``: same names, results and errors (see its docstring
for the contract). Here payloads are unmasked while they are copied, eight bytes at a
time; UTF-8 is checked by a byte-range state machine with an eight-bytes-at-a-time
ASCII skip; a message that arrives whole in one frame becomes its ``bytes`` or ``str``
with a single copy; control payloads (125 bytes at most) live in a fixed array.
"""

from cpython.buffer cimport (
    PyBUF_SIMPLE,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from httpaf.model import FrameError

__all__ = ["NOTHING", "MESSAGE", "CONTROL", "FrameReader", "encode_frame", "frame_header", "mask"]

NOTHING = 0
MESSAGE = 1
CONTROL = 2

# RFC 6455 §5.2 reasons, shared word for word with the pure twin.
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

DEF _TEXT = 1
DEF _BINARY = 2
DEF _STACK_TEXT = 256  # whole small text messages are unmasked on the stack
DEF _KEEP = 65536  # an assembly buffer up to this size is kept for the next message
cdef unsigned long long _MAX_LENGTH = 0x7FFFFFFFFFFFFFFFULL
cdef uint64_t _HIGH_BITS = 0x8080808080808080ULL


# -- masking ---------------------------------------------------------------------------

cdef inline void _xor_copy(
    uint8_t* dst, const uint8_t* src, Py_ssize_t n, const uint8_t* key, int phase
) noexcept nogil:
    """dst[i] = src[i] ^ key[(phase + i) % 4] for i < n (dst may be src)."""
    cdef uint8_t stream[8]
    cdef uint64_t word, key_word
    cdef Py_ssize_t i = 0
    cdef int j
    # The key stream from ``phase`` on, twice: eight bytes keep the phase.
    for j in range(8):
        stream[j] = key[(phase + j) & 3]
    memcpy(&key_word, stream, 8)
    while i + 8 <= n:
        # memcpy of 8 bytes is one unaligned load or store.
        memcpy(&word, src + i, 8)
        word ^= key_word
        memcpy(dst + i, &word, 8)
        i += 8
    while i < n:
        dst[i] = src[i] ^ stream[i & 7]
        i += 1


def mask(buf, key, int phase=0):
    """XOR the writable ``buf`` in place with ``key`` (4 bytes), from key byte ``phase``.

    Masking and unmasking are the same operation (RFC 6455 §5.3).
    """
    cdef Py_buffer view
    cdef const uint8_t* k
    if len(key) != 4:
        raise ValueError("a masking key is 4 bytes")
    raw = bytes(key)
    k = <const uint8_t*>PyBytes_AS_STRING(raw)
    try:
        PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE | PyBUF_WRITABLE)
    except BufferError:
        raise TypeError("mask() needs a writable buffer") from None
    try:
        _xor_copy(<uint8_t*>view.buf, <const uint8_t*>view.buf, view.len, k, phase & 3)
    finally:
        PyBuffer_Release(&view)


# -- writing frames --------------------------------------------------------------------

cdef Py_ssize_t _write_head(
    uint8_t* out, int opcode, unsigned long long length, bint fin, bint rsv1,
    const uint8_t* key,
) noexcept:
    """Write a frame head into ``out`` (14 bytes of room); return its size."""
    cdef Py_ssize_t n
    cdef int i
    cdef uint8_t bit = 0x80 if key != NULL else 0
    out[0] = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    if length < 126:
        out[1] = bit | <uint8_t>length
        n = 2
    elif length < 65536:
        out[1] = bit | 126
        out[2] = <uint8_t>(length >> 8)
        out[3] = <uint8_t>length
        n = 4
    else:
        out[1] = bit | 127
        for i in range(8):
            out[2 + i] = <uint8_t>(length >> (56 - 8 * i))
        n = 10
    if key != NULL:
        memcpy(out + n, key, 4)
        n += 4
    return n


cdef object _check_frame(int opcode, object length, bint fin, object mask_key):
    """The checks of ``frame_header``; returns the key as ``bytes`` (or None)."""
    if not 0 <= opcode <= 15:
        raise ValueError(f"opcode out of range: {opcode}")
    if not 0 <= length <= _MAX_LENGTH:
        raise ValueError(f"frame length out of range: {length}")
    if opcode >= 8 and (length > 125 or not fin):
        raise ValueError("a control frame is final and carries at most 125 bytes")
    if mask_key is None:
        return None
    if len(mask_key) != 4:
        raise ValueError("a masking key is 4 bytes")
    return bytes(mask_key)


def frame_header(int opcode, length, bint fin=True, bint rsv1=False, mask_key=None):
    """The head of a frame of ``length`` payload bytes (lengths in minimal encoding).

    Raises ``ValueError`` for what no endpoint may send: an opcode outside 0-15, a
    negative or too large length, a fragmented or long (over 125 bytes) control
    frame, a masking key that is not 4 bytes.
    """
    cdef uint8_t out[14]
    cdef const uint8_t* k = NULL
    key = _check_frame(opcode, length, fin, mask_key)
    if key is not None:
        k = <const uint8_t*>PyBytes_AS_STRING(key)
    cdef Py_ssize_t n = _write_head(out, opcode, <unsigned long long>length, fin, rsv1, k)
    return PyBytes_FromStringAndSize(<char*>out, n)


def encode_frame(int opcode, payload, bint fin=True, bint rsv1=False, mask_key=None):
    """A whole frame: its head and ``payload``, masked with ``mask_key`` if given."""
    cdef Py_buffer view
    cdef uint8_t head[14]
    cdef Py_ssize_t n
    cdef uint8_t* out
    cdef const uint8_t* k = NULL
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        if opcode < 0 or opcode > 15 or (opcode >= 8 and (view.len > 125 or not fin)):
            _check_frame(opcode, view.len, fin, None)  # (raises the precise error)
        if mask_key is not None:
            key = _check_frame(opcode, view.len, fin, mask_key)
            k = <const uint8_t*>PyBytes_AS_STRING(key)
        n = _write_head(head, opcode, <unsigned long long>view.len, fin, rsv1, k)
        frame = PyBytes_FromStringAndSize(NULL, n + view.len)
        out = <uint8_t*>PyBytes_AS_STRING(frame)  # a new bytes object: still ours to fill
        memcpy(out, head, n)
        if k == NULL:
            memcpy(out + n, view.buf, view.len)
        else:
            _xor_copy(out + n, <const uint8_t*>view.buf, view.len, k, 0)
        return frame
    finally:
        PyBuffer_Release(&view)


# -- UTF-8 -----------------------------------------------------------------------------

cdef inline bint _utf8_feed(_Utf8* st, const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """Check ``n`` more bytes; False at the first byte no valid text can have there."""
    cdef Py_ssize_t i = 0
    cdef uint64_t word
    cdef uint8_t c
    cdef int need = st.need
    cdef uint8_t lo = st.lo
    cdef uint8_t hi = st.hi
    while i < n:
        if need == 0:
            # A run of ASCII, eight bytes at a time.
            while i + 8 <= n:
                memcpy(&word, p + i, 8)
                if word & _HIGH_BITS:
                    break
                i += 8
            if i >= n:
                break
            c = p[i]
            i += 1
            if c < 0x80:
                continue
            if c < 0xC2:
                return False  # a continuation byte, or an overlong two-byte lead
            if c < 0xE0:
                need = 1
                lo = 0x80
                hi = 0xBF
            elif c < 0xF0:
                need = 2
                lo = 0xA0 if c == 0xE0 else 0x80  # E0: no overlong forms
                hi = 0x9F if c == 0xED else 0xBF  # ED: no surrogates
            elif c < 0xF5:
                need = 3
                lo = 0x90 if c == 0xF0 else 0x80  # F0: no overlong forms
                hi = 0x8F if c == 0xF4 else 0xBF  # F4: nothing over U+10FFFF
            else:
                return False
        else:
            c = p[i]
            i += 1
            if c < lo or c > hi:
                return False
            need -= 1
            lo = 0x80
            hi = 0xBF
    st.need = need
    st.lo = lo
    st.hi = hi
    return True


# -- reading frames --------------------------------------------------------------------

cdef class FrameReader:
    """Reads frames from a stream of bytes and assembles messages (RFC 6455 §5)."""

    def __cinit__(self, client, Py_ssize_t max_frame_size, Py_ssize_t max_message_size):
        self.client = bool(client)
        self.max_frame_size = max_frame_size
        self.max_message_size = max_message_size
        self._acc = NULL
        self._whole = None
        self._payload = b""

    def __dealloc__(self):
        PyMem_Free(self._acc)

    @property
    def payload(self):
        """After ``CONTROL``: the frame's payload, unmasked."""
        return self._payload

    @property
    def in_message(self):
        """Whether a fragmented data message has started and not finished."""
        return self._in_message

    cpdef int read(self, buf, Py_ssize_t start=0, object end=None) except -1:
        """Read frames from ``buf[start:end]`` up to the end of a message or control frame.

        Returns ``MESSAGE``, ``CONTROL`` or ``NOTHING``; sets :attr:`consumed`.
        """
        cdef Py_buffer view
        cdef Py_ssize_t stop, pos, used, n
        cdef const uint8_t* data
        PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        try:
            stop = view.len if end is None else <Py_ssize_t>end
            if stop > view.len:
                stop = view.len
            data = <const uint8_t*>view.buf
            pos = start
            while True:
                if not self._in_frame:
                    used = self._read_head(data, pos, stop)
                    if not used:
                        break
                    pos += used
                    if (
                        self._fin and self._frame_opcode and self._frame_opcode < 8
                        and self._remaining <= <unsigned long long>(stop - pos)
                    ):
                        # The usual case: a whole message in one frame, all here.
                        n = <Py_ssize_t>self._remaining
                        self._whole_message(data + pos, n)
                        pos += n
                        self._remaining = 0
                        self._in_frame = False
                        self._end_message()
                        self.consumed = pos - start
                        return MESSAGE
                n = stop - pos
                if self._remaining < <unsigned long long>n:
                    n = <Py_ssize_t>self._remaining
                if n:
                    self._take(data + pos, n)
                    pos += n
                    self._remaining -= n
                if self._remaining:
                    break
                self._in_frame = False
                if self._frame_opcode >= 8:
                    self.opcode = self._frame_opcode
                    self._payload = PyBytes_FromStringAndSize(
                        <char*>self._control, self._control_len
                    )
                    self.consumed = pos - start
                    return CONTROL
                if self._fin:
                    self._end_message()
                    self.consumed = pos - start
                    return MESSAGE
            self.consumed = pos - start
            return NOTHING
        finally:
            PyBuffer_Release(&view)

    cpdef object take_message(self):
        """The message completed by the last ``MESSAGE``, once.

        A ``str`` for uncompressed text (already validated), else the ``bytes`` of
        the payload (compressed ones still compressed).
        """
        cdef object message = self._whole
        if message is not None:
            self._whole = None
            return message
        if self.opcode == _TEXT and not self.compressed:
            # Validated as it came: decoding cannot fail.
            message = PyUnicode_DecodeUTF8(<char*>self._acc, self._acc_len, NULL)
        else:
            message = PyBytes_FromStringAndSize(<char*>self._acc, self._acc_len)
        self._acc_len = 0
        if self._acc_cap > _KEEP:
            PyMem_Free(self._acc)
            self._acc = NULL
            self._acc_cap = 0
        return message

    # -- frame heads -----------------------------------------------------------------

    cdef Py_ssize_t _read_head(
        self, const uint8_t* data, Py_ssize_t pos, Py_ssize_t stop
    ) except -1:
        """Parse the frame head at ``pos``: its length, or 0 if it is incomplete."""
        cdef Py_ssize_t avail = stop - pos
        cdef uint8_t b0, b1, rsv
        cdef int opcode, i
        cdef bint fin, masked
        cdef unsigned long long length
        cdef Py_ssize_t size, at, so_far
        if avail < 2:
            return 0
        b0 = data[pos]
        b1 = data[pos + 1]
        length = b1 & 0x7F
        masked = (b1 & 0x80) != 0
        size = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if masked else 0)
        if avail < size:
            return 0
        opcode = b0 & 0x0F
        fin = (b0 & 0x80) != 0
        if 3 <= opcode <= 7 or opcode >= 11:
            raise FrameError(1002, _RESERVED_OPCODE)
        rsv = b0 & 0x70
        if rsv and not (
            rsv == 0x40 and self.rsv1_allowed and (opcode == _TEXT or opcode == _BINARY)
        ):
            raise FrameError(1002, _RESERVED_BITS)
        if masked == self.client:
            raise FrameError(1002, _MASKED if self.client else _UNMASKED)
        if opcode >= 8:
            if not fin:
                raise FrameError(1002, _FRAGMENTED_CONTROL)
            if length > 125:
                raise FrameError(1002, _LONG_CONTROL)
        at = pos + 2
        if length == 126:
            length = (<unsigned long long>data[at] << 8) | data[at + 1]
            at += 2
            if length < 126:
                raise FrameError(1002, _NON_MINIMAL)
        elif length == 127:
            length = 0
            for i in range(8):
                length = (length << 8) | data[at + i]
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
        if length > <unsigned long long>self.max_frame_size:
            raise FrameError(1009, _FRAME_TOO_BIG)
        if opcode < 8:
            so_far = self._size if opcode == 0 else 0
            # (length <= max_frame_size here: the sum cannot overflow)
            if so_far + <Py_ssize_t>length > self.max_message_size:
                raise FrameError(1009, _MESSAGE_TOO_BIG)
            if opcode:
                self._start_message(opcode, rsv != 0)
            self._size = so_far + <Py_ssize_t>length
        else:
            self._control_len = 0
        self._masked = masked
        if masked:
            memcpy(self._key, data + at, 4)
        self._phase = 0
        self._frame_opcode = opcode
        self._fin = fin
        self._remaining = length
        self._in_frame = True
        return size

    # -- payloads --------------------------------------------------------------------

    cdef void _start_message(self, int opcode, bint compressed) noexcept:
        self._in_message = True
        self._message_opcode = opcode
        self._message_compressed = compressed
        self._validate = opcode == _TEXT and not compressed
        self._utf8.need = 0
        self._acc_len = 0
        self._whole = None

    cdef int _whole_message(self, const uint8_t* src, Py_ssize_t n) except -1:
        """Make the message of a whole single frame at ``src``, unmasked in one copy."""
        cdef uint8_t small[_STACK_TEXT]
        cdef uint8_t* dst
        cdef object made
        if self._validate:
            if n <= _STACK_TEXT:
                dst = small
            else:
                made = PyBytes_FromStringAndSize(NULL, n)
                dst = <uint8_t*>PyBytes_AS_STRING(made)
            self._unmask_into(dst, src, n)
            if not _utf8_feed(&self._utf8, dst, n) or self._utf8.need:
                raise FrameError(1007, _INVALID_UTF8)
            self._whole = PyUnicode_DecodeUTF8(<char*>dst, n, NULL)
        else:
            made = PyBytes_FromStringAndSize(NULL, n)
            self._unmask_into(<uint8_t*>PyBytes_AS_STRING(made), src, n)
            self._whole = made
        return 0

    cdef void _unmask_into(self, uint8_t* dst, const uint8_t* src, Py_ssize_t n) noexcept:
        if self._masked:
            _xor_copy(dst, src, n, self._key, self._phase)
            self._phase = (self._phase + n) & 3
        else:
            memcpy(dst, src, n)

    cdef int _take(self, const uint8_t* src, Py_ssize_t n) except -1:
        """Keep payload bytes of the current frame (and check text as it comes)."""
        cdef Py_ssize_t need
        cdef uint8_t* grown
        cdef uint8_t* dst
        if self._frame_opcode >= 8:
            self._unmask_into(self._control + self._control_len, src, n)
            self._control_len += n
            return 0
        need = self._acc_len + n
        if need > self._acc_cap:
            # Grow by doubling (the message size was checked against its limit).
            need = max(need, 2 * self._acc_cap, 256)
            grown = <uint8_t*>PyMem_Realloc(self._acc, need)
            if grown == NULL:
                raise MemoryError()
            self._acc = grown
            self._acc_cap = need
        dst = self._acc + self._acc_len
        self._unmask_into(dst, src, n)
        self._acc_len += n
        if self._validate and not _utf8_feed(&self._utf8, dst, n):
            raise FrameError(1007, _INVALID_UTF8)
        return 0

    cdef int _end_message(self) except -1:
        if self._validate and self._utf8.need:
            raise FrameError(1007, _INVALID_UTF8)  # a sequence cut by the message's end
        self._in_message = False
        self.opcode = self._message_opcode
        self.compressed = self._message_compressed
        return 0
