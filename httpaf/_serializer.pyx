# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A Faraday-style buffered serializer for HTTP/1.1 messages, in Cython.

The twin of ``_serializer_py.py``: same class, same results, same errors. Heads are
written straight into the copy buffer: field names and values are read from the
latin-1 ``str`` objects' own storage, checked against lookup tables and copied with
``memcpy``; status lines for the standard codes are precomputed.
"""

from collections import deque

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.unicode cimport (
    PyUnicode_1BYTE_DATA,
    PyUnicode_1BYTE_KIND,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
)
from libc.string cimport memcpy

from .errors import StateError
from .status import Status
from .version import HTTP_1_1

__all__ = ["Serializer", "check_field", "check_reason"]

# -- character classes (lookup tables, filled once at import) --------------------------

cdef unsigned char TOKEN[256]  # tchar (RFC 9110 §5.6.2)
cdef unsigned char VALUE[256]  # field-value / reason octets: no CTL but HTAB, no DEL
cdef unsigned char TARGET[256]  # request-target: visible ASCII

cdef void _init_tables():
    cdef int c
    for c in range(256):
        TOKEN[c] = 0
        VALUE[c] = 0
        TARGET[c] = 0
    for c in b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        TOKEN[c] = 1
    for c in range(256):
        if c == 9 or (32 <= c < 127) or c >= 128:
            VALUE[c] = 1
        if 33 <= c <= 126:
            TARGET[c] = 1

_init_tables()

cdef bytes _CRLF = b"\r\n"
cdef bytes _LAST_CHUNK = b"0\r\n\r\n"
cdef const char* _HEX = b"0123456789abcdef"

# code -> ("HTTP/1.1 200 OK\r\n", "OK") for every standard status and its phrase.
cdef dict _STATUS_LINES = {
    int(s): (f"HTTP/1.1 {int(s)} {s.phrase}\r\n".encode("latin-1"), s.phrase) for s in Status
}


cdef inline const unsigned char* _latin1(object text, Py_ssize_t* size, str what) except? NULL:
    """The latin-1 bytes of ``text`` (its own storage; no copy); NULL if it has others.

    A ``str`` holding a character above U+00FF cannot go on the wire as one byte.
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, not {type(text).__name__}")
    size[0] = PyUnicode_GET_LENGTH(text)
    if PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND:
        return NULL
    return <const unsigned char*>PyUnicode_1BYTE_DATA(text)


cdef inline bint _all_in(const unsigned char* p, Py_ssize_t n, const unsigned char* table):
    cdef Py_ssize_t i
    for i in range(n):
        if not table[p[i]]:
            return False
    return True


cdef int _check_field(object name, object value, Py_ssize_t* total) except -1:
    """Validate one field; add its wire size (``name: value\r\n``) to ``total``."""
    cdef Py_ssize_t nlen, vlen
    cdef const unsigned char* n = _latin1(name, &nlen, "header field name")
    cdef const unsigned char* v
    if n == NULL or nlen == 0 or not _all_in(n, nlen, TOKEN):
        raise ValueError(f"invalid header field name: {name!r}")
    v = _latin1(value, &vlen, "header field value")
    if v == NULL or not _all_in(v, vlen, VALUE):
        raise ValueError(f"invalid character in value of header field {name!r}")
    total[0] += nlen + vlen + 4
    return 0


def check_field(name, value):
    """Refuse a field whose name is not a token or whose value holds CTLs (CR, LF, NUL)."""
    cdef Py_ssize_t total = 0
    _check_field(name, value, &total)


def check_reason(reason):
    """Refuse a reason phrase holding CTLs."""
    cdef Py_ssize_t n
    cdef const unsigned char* p = _latin1(reason, &n, "reason phrase")
    if p == NULL or not _all_in(p, n, VALUE):
        raise ValueError(f"invalid character in reason phrase: {reason!r}")


cdef class Serializer:
    """A queue of output bytes with copy and zero-copy writes and flush callbacks."""

    cdef Py_ssize_t _size
    cdef bytearray _buffer
    cdef object _view  # memoryview of _buffer
    cdef unsigned char* _data  # _buffer's storage
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _scheduled_pos  # start of copied bytes not yet queued
    cdef Py_ssize_t _write_pos  # end of copied bytes
    cdef object _queue  # deque of memoryviews
    cdef object _flushed  # deque of (threshold, callback)
    cdef long long _bytes_received
    cdef long long _bytes_written
    cdef bint _closed

    def __init__(self, Py_ssize_t buffer_size=4096):
        if buffer_size <= 0:
            raise ValueError("buffer_size must be positive")
        self._size = buffer_size
        self._new_buffer(buffer_size)
        self._queue = deque()
        self._flushed = deque()
        self._bytes_received = 0
        self._bytes_written = 0
        self._closed = False

    cdef void _new_buffer(self, Py_ssize_t size):
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        self._data = <unsigned char*>PyByteArray_AS_STRING(self._buffer)
        self._capacity = size
        self._scheduled_pos = 0
        self._write_pos = 0

    # -- state ---------------------------------------------------------------------

    @property
    def is_closed(self):
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def pending_bytes(self):
        """Bytes written or scheduled but not yet reported written."""
        return self._write_pos - self._scheduled_pos + sum(map(len, self._queue))

    @property
    def has_pending_output(self):
        """Whether any bytes wait to be written."""
        return self._write_pos != self._scheduled_pos or len(self._queue) != 0

    # -- copying writes --------------------------------------------------------------

    cdef unsigned char* _reserve(self, Py_ssize_t n) except NULL:
        """Room for ``n`` more copied bytes (a fresh buffer if they do not fit)."""
        if self._closed:
            raise StateError("cannot write to closed writer")
        if self._capacity - self._write_pos < n:
            self._flush_buffer()
            # A fresh buffer: the old one lives on only in queued iovecs.
            self._new_buffer(max(self._size, n))
        return self._data + self._write_pos

    cdef inline void _copy(self, const void* src, Py_ssize_t n):
        memcpy(self._data + self._write_pos, src, n)
        self._write_pos += n

    cdef int _write_raw(self, const void* src, Py_ssize_t n) except -1:
        if n == 0:
            if self._closed:
                raise StateError("cannot write to closed writer")
            return 0
        self._reserve(n)
        self._copy(src, n)
        return 0

    def write(self, data):
        """Copy ``data`` into the output."""
        cdef Py_buffer view
        if self._closed:
            raise StateError("cannot write to closed writer")
        if type(data) is bytes:
            self._write_raw(<const char*>(<bytes>data), len(<bytes>data))
            return
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except BufferError:  # not contiguous: gather it first
            data = memoryview(data).tobytes()
            self._write_raw(<const char*>(<bytes>data), len(<bytes>data))
            return
        try:
            self._write_raw(view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    def write_string(self, text):
        """Copy ``text``, encoded as latin-1, into the output."""
        cdef Py_ssize_t n
        cdef const unsigned char* p = _latin1(text, &n, "text")
        if p == NULL:
            raise ValueError("text is not latin-1 text")
        self._write_raw(p, n)

    def writev(self, pieces):
        """Copy each of ``pieces`` in order."""
        for piece in pieces:
            self.write(piece)

    # -- zero-copy writes ------------------------------------------------------------

    cdef void _flush_buffer(self):
        cdef Py_ssize_t start = self._scheduled_pos, end = self._write_pos
        if end > start:
            self._queue.append(self._view[start:end])
            self._bytes_received += end - start
            self._scheduled_pos = end

    def schedule(self, data):
        """Queue ``data`` itself, after what is already written; it is not copied."""
        if self._closed:
            raise StateError("cannot write to closed writer")
        self._flush_buffer()
        view = data if type(data) is memoryview else memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        cdef Py_ssize_t n = len(view)
        if n:
            self._queue.append(view)
            self._bytes_received += n

    def schedulev(self, pieces):
        """Queue each of ``pieces`` in order, none copied."""
        for piece in pieces:
            self.schedule(piece)

    # -- HTTP ------------------------------------------------------------------------

    cdef int _write_fields(self, fields) except -1:
        """Copy ``name: value\r\n`` for each field (already validated)."""
        cdef Py_ssize_t nlen, vlen
        cdef const unsigned char* n
        cdef const unsigned char* v
        cdef unsigned char* out
        for name, value in fields:
            n = PyUnicode_1BYTE_DATA(name)
            nlen = PyUnicode_GET_LENGTH(name)
            v = PyUnicode_1BYTE_DATA(value)
            vlen = PyUnicode_GET_LENGTH(value)
            out = self._data + self._write_pos
            memcpy(out, n, nlen)
            out[nlen] = b':'
            out[nlen + 1] = b' '
            memcpy(out + nlen + 2, v, vlen)
            out[nlen + 2 + vlen] = b'\r'
            out[nlen + 3 + vlen] = b'\n'
            self._write_pos += nlen + vlen + 4
        return 0

    cdef int _write_head(self, bytes start_line, fields, extra) except -1:
        """Validate every field, then copy the start line, the fields and the CRLF."""
        cdef Py_ssize_t total = len(start_line) + 2
        for name, value in fields:
            _check_field(name, value, &total)
        if extra:
            for name, value in extra:
                _check_field(name, value, &total)
        self._reserve(total)
        self._copy(<const char*>start_line, len(start_line))
        self._write_fields(fields)
        if extra:
            self._write_fields(extra)
        self._copy(b"\r\n", 2)
        return 0

    def write_response_head(self, response, extra=None):
        """Copy the status line, the header fields, then ``extra`` fields.

        Names must be tokens; CR, LF, NUL and other CTLs are refused in values and the
        reason phrase (``ValueError``), so nothing can be injected into the head.
        """
        status = response.status
        reason = response.reason
        version = response.version
        if not 100 <= status <= 999:
            raise ValueError(f"status code {status} is not a three-digit number")
        line = None
        if version is HTTP_1_1:
            entry = _STATUS_LINES.get(status)
            if entry is not None and (<tuple>entry)[1] == reason:
                line = (<tuple>entry)[0]
        if line is None:
            check_reason(reason)
            line = f"{version} {int(status)} {reason}\r\n".encode("latin-1")
        self._write_head(line, response.headers._fields, extra)

    def write_request_head(self, request):
        """Copy the request line and header fields, checked like a response head."""
        cdef Py_ssize_t mlen, tlen
        method = str(request.method)
        target = request.target
        cdef const unsigned char* m = _latin1(method, &mlen, "method")
        if m == NULL or mlen == 0 or not _all_in(m, mlen, TOKEN):
            raise ValueError(f"invalid method: {method!r}")
        cdef const unsigned char* t = _latin1(target, &tlen, "request target")
        if t == NULL or tlen == 0 or not _all_in(t, tlen, TARGET):
            raise ValueError(f"invalid request target: {target!r}")
        line = f"{method} {target} {request.version}\r\n".encode("latin-1")
        self._write_head(line, request.headers._fields, None)

    cdef int _write_size_line(self, Py_ssize_t n) except -1:
        """``%x\r\n`` in lower-case hex."""
        cdef unsigned char digits[20]
        cdef int i = 20
        digits[19] = b'\n'
        digits[18] = b'\r'
        i = 18
        while True:
            i -= 1
            digits[i] = _HEX[n & 15]
            n >>= 4
            if n == 0:
                break
        self._write_raw(digits + i, 20 - i)
        return 0

    def write_chunk(self, data, copy=True):
        """One chunk: size line, ``data`` (copied, or scheduled if not ``copy``), CRLF.

        An empty ``data`` writes nothing, since a zero-size chunk ends the body.
        """
        cdef Py_ssize_t n = data.nbytes if type(data) is memoryview else len(data)
        if n == 0:
            return
        self._write_size_line(n)
        if copy:
            self.write(data)
        else:
            self.schedule(data)
        self._write_raw(b"\r\n", 2)

    def write_last_chunk(self, trailers=None):
        """The zero-size chunk, the trailer fields if any, and the final CRLF."""
        if not trailers:
            self._write_raw(b"0\r\n\r\n", 5)
            return
        fields = trailers._fields if hasattr(trailers, "_fields") else list(trailers)
        self._write_head(b"0\r\n", fields, None)

    # -- flushing and the runtime's side --------------------------------------------

    def flush(self, callback):
        """Call ``callback`` once every byte written so far is reported written."""
        self._flush_buffer()
        if not self._queue:
            callback()
        else:
            self._flushed.append((self._bytes_received, callback))

    def operation(self):
        """The iovecs to write now, in order; empty when there is nothing to write.

        With nothing pending, :attr:`is_closed` tells whether to close or to wait.
        """
        self._flush_buffer()
        return list(self._queue)

    def shift(self, Py_ssize_t n):
        """Drop the first ``n`` queued bytes (reported written) and fire callbacks."""
        if n < 0:
            raise ValueError(f"cannot shift by a negative number: {n}")
        queue = self._queue
        if n and (not queue or n > len(queue[0])) and n > sum(map(len, queue)):
            raise ValueError("shift past the end of the pending output")
        self._bytes_written += n
        cdef Py_ssize_t size
        while n:
            head = queue[0]
            size = len(head)
            if n < size:
                queue[0] = head[n:]
                break
            queue.popleft()
            n -= size
        if not queue and self._scheduled_pos == self._write_pos:
            # Everything handed out has been written: reuse the buffer from its start.
            self._scheduled_pos = self._write_pos = 0
        flushed = self._flushed
        while flushed and flushed[0][0] <= self._bytes_written:
            flushed.popleft()[1]()

    def close(self):
        """Refuse further writes; what is pending is still handed out."""
        self._closed = True
        self._flush_buffer()

    def drain(self):
        """Close, drop everything pending, fire every callback; return bytes dropped."""
        self.close()
        dropped = sum(map(len, self._queue))
        if dropped:
            self.shift(dropped)
        flushed = self._flushed
        while flushed:
            flushed.popleft()[1]()
        return dropped
