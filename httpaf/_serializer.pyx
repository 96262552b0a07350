# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A Faraday-style buffered serializer for HTTP/1.1 messages, in Cython.

The twin of ``_serializer_pure.py``: same class, same results, same errors. Heads are
written straight into the copy buffer: field names and values are read from the
latin-1 ``str`` objects' own storage, checked against lookup tables and copied with
``memcpy``; status lines for the standard codes are precomputed.
"""

from collections import deque

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongAndOverflow
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.buffer cimport (
    PyBUF_SIMPLE,
    PyBuffer_IsContiguous,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.unicode cimport (
    PyUnicode_1BYTE_DATA,
    PyUnicode_1BYTE_KIND,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
)
from libc.limits cimport LLONG_MAX
from libc.string cimport memcpy, memset

from httpaf.model import StateError
from httpaf.model import Headers
from httpaf.model import CHUNKED, CLOSE_DELIMITED, Request, Response, response_head_framing
from httpaf.model import Method
from httpaf.model import Status
from httpaf.model import HTTP_1_0, HTTP_1_1


cdef extern from "Python.h":
    Py_buffer* PyMemoryView_GET_BUFFER(object)

include "_slots.pxi"
include "_pool.pxi"

_INTERIM = "1xx responses are sent by the connection, not the handler"

# Response, Request and Headers attributes read by offset (no attribute lookup) when
# the objects are exactly those classes; -1 offsets (never expected) mean getattr.
cdef object _RESPONSE = Response
cdef object _REQUEST = Request
cdef object _HEADERS = Headers
cdef Py_ssize_t _AT_METHOD = _slot_offset(Request.__dict__["method"], Request)
cdef Py_ssize_t _AT_REQUEST_VERSION = _slot_offset(Request.__dict__["version"], Request)
cdef Py_ssize_t _AT_STATUS = _slot_offset(Response.__dict__["status"], Response)
cdef Py_ssize_t _AT_REASON = _slot_offset(Response.__dict__["reason"], Response)
cdef Py_ssize_t _AT_VERSION = _slot_offset(Response.__dict__["version"], Response)
cdef Py_ssize_t _AT_HEADERS = _slot_offset(Response.__dict__["headers"], Response)
cdef Py_ssize_t _AT_FIELDS = _slot_offset(Headers.__dict__["_fields"], Headers)
cdef bint _DIRECT = min(
    _AT_STATUS, _AT_REASON, _AT_VERSION, _AT_HEADERS, _AT_FIELDS, _AT_METHOD,
    _AT_REQUEST_VERSION,
) > 0


cdef inline object _get(object obj, Py_ssize_t offset, str name):
    """``getattr(obj, name)`` through the slot at ``offset`` (``obj``'s class checked)."""
    cdef PyObject* value = _slot(obj, offset)
    if value == NULL:
        return getattr(obj, name)  # unset: the AttributeError
    return <object>value


# -- the last framed head, for a handler that reuses one Response -------------------
#
# A server handler often answers with the same ``Response`` object every time (it is
# immutable in practice: its fields in a list that nobody edits). Once the same
# response is framed twice in a row with the same request method, version, body size
# and persistence, its head (with the fields framing added) and result are kept, and
# later calls copy them, after checking by identity that no part of the response
# changed: each slot, the field list, its length and each of its field tuples. One
# entry for the process; with the GIL held nothing runs between check and copy.

cdef object _seen = None  # the response framed last (a reference keeps its identity)
cdef object _hc_response = None  # the response of the kept head, or None
cdef object _hc_status, _hc_reason, _hc_version, _hc_headers, _hc_fields
cdef tuple _hc_items = None  # the field tuples then
cdef object _hc_method, _hc_request_version, _hc_body_size
cdef bint _hc_persistent, _hc_has_date
cdef bytes _hc_head = None
cdef tuple _hc_result = None


cdef inline bint _same_slot(object obj, Py_ssize_t offset, object value):
    return _slot(obj, offset) == <PyObject*>value


cdef bint _is_kept(response, request_method, request_version, body_size, bint persistent):
    """Whether the kept head is ``response``'s, framed for the same request."""
    cdef Py_ssize_t i, n
    if (
        response is not _hc_response
        or request_method is not _hc_method
        or request_version is not _hc_request_version
        or persistent != _hc_persistent
        or not _same_slot(response, _AT_STATUS, _hc_status)
        or not _same_slot(response, _AT_REASON, _hc_reason)
        or not _same_slot(response, _AT_VERSION, _hc_version)
        or not _same_slot(response, _AT_HEADERS, _hc_headers)
        or not _same_slot(_hc_headers, _AT_FIELDS, _hc_fields)
    ):
        return False
    if body_size is not _hc_body_size and not (
        type(body_size) is int and type(_hc_body_size) is int and body_size == _hc_body_size
    ):
        return False
    n = PyList_GET_SIZE(_hc_fields)
    if n != PyTuple_GET_SIZE(_hc_items):
        return False
    for i in range(n):
        if PyList_GET_ITEM(_hc_fields, i) != PyTuple_GET_ITEM(_hc_items, i):
            return False
    return True


cdef void _keep_head(
    response, request_method, request_version, body_size, bint persistent, bint has_date,
    bytes head, tuple result,
):
    """Keep ``response``'s head, just framed (``_DIRECT``, exact classes, list fields):
    all but its ``Date`` line (the current one is added to each copy) and the CRLF."""
    global _hc_response, _hc_status, _hc_reason, _hc_version, _hc_headers, _hc_fields
    global _hc_items, _hc_method, _hc_request_version, _hc_body_size
    global _hc_persistent, _hc_has_date, _hc_head, _hc_result
    _hc_response = None  # (incomplete while being filled)
    _hc_status = <object>_slot(response, _AT_STATUS)
    _hc_reason = <object>_slot(response, _AT_REASON)
    _hc_version = <object>_slot(response, _AT_VERSION)
    _hc_headers = <object>_slot(response, _AT_HEADERS)
    _hc_fields = <object>_slot(_hc_headers, _AT_FIELDS)
    _hc_items = tuple(_hc_fields)
    _hc_method = request_method
    _hc_request_version = request_version
    _hc_body_size = body_size
    _hc_persistent = persistent
    _hc_has_date = has_date
    _hc_head = head
    _hc_result = result
    _hc_response = response


cdef tuple _head_parts(response):
    """``(status, reason, version, fields)`` of a response."""
    if _DIRECT and type(response) is _RESPONSE:
        status = _get(response, _AT_STATUS, "status")
        reason = _get(response, _AT_REASON, "reason")
        version = _get(response, _AT_VERSION, "version")
        headers = _get(response, _AT_HEADERS, "headers")
    else:
        status, reason, version = response.status, response.reason, response.version
        headers = response.headers
    if _DIRECT and type(headers) is _HEADERS:
        return status, reason, version, _get(headers, _AT_FIELDS, "_fields")
    return status, reason, version, headers._fields

__all__ = ["DateField", "Serializer", "check_field", "check_reason"]

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


cdef list _pairs(fields):
    """``fields`` as a list of 2-tuples (a copy only when it is not one already)."""
    cdef Py_ssize_t i
    if type(fields) is list:
        for i in range(PyList_GET_SIZE(fields)):
            field = <object>PyList_GET_ITEM(fields, i)
            if type(field) is not tuple or PyTuple_GET_SIZE(field) != 2:
                break
        else:
            return fields
    return [(name, value) for name, value in fields]


cdef int _check_fields(list fields, Py_ssize_t* total) except -1:
    """Validate a list of 2-tuples; add their wire size to ``total``."""
    cdef Py_ssize_t i
    for i in range(PyList_GET_SIZE(fields)):
        field = <tuple>PyList_GET_ITEM(fields, i)
        _check_field(<object>PyTuple_GET_ITEM(field, 0), <object>PyTuple_GET_ITEM(field, 1), total)
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


cdef list _LINES = [None] * 1000  # code -> ("HTTP/1.1 200 OK\\r\\n", "OK") or None
for _code, _entry in _STATUS_LINES.items():
    _LINES[_code] = _entry


cdef long _status_code(status) except? -1:
    """``status`` as a C long; 0 when it is not an int or does not fit one."""
    cdef int overflow = 0
    cdef long code
    if not isinstance(status, int):
        return 0
    code = PyLong_AsLongAndOverflow(status, &overflow)
    return 0 if overflow else code


cdef bytes _status_line_of(status, reason, version):
    cdef long code = _status_code(status)
    if 100 <= code <= 999:
        if version is HTTP_1_1:
            entry = _LINES[code]
            if entry is not None and (
                (<tuple>entry)[1] is reason or (<tuple>entry)[1] == reason
            ):
                return (<tuple>entry)[0]
    elif not 100 <= status <= 999:
        raise ValueError(f"status code {status} is not a three-digit number")
    check_reason(reason)
    return f"{version} {int(status)} {reason}\r\n".encode("latin-1")


# -- response framing (RFC 9112 §6.3, §9.3) for the usual heads -----------------------

cdef long long CHUNKED_C = CHUNKED
cdef long long CLOSE_DELIMITED_C = CLOSE_DELIMITED
cdef object _HTTP_1_0 = HTTP_1_0
cdef object _HTTP_1_1 = HTTP_1_1
cdef object _M_GET = Method.GET
cdef object _M_HEAD = Method.HEAD
cdef unsigned char LOWER[256]

for _c in range(256):
    LOWER[_c] = _c + 32 if 65 <= _c <= 90 else _c


cdef struct _Framing:
    int status
    bint discard  # no body bytes at all (HEAD, 1xx, 204, 304)
    int te_count
    bint chunked  # the last transfer coding is chunked
    int cl_count
    long long content_length
    bint close  # a Connection token "close"
    bint keep_alive  # a Connection token "keep-alive"
    bint has_date  # a Date field


cdef inline bint _ci_is(const unsigned char* p, Py_ssize_t n, const char* lower, Py_ssize_t m):
    """ASCII case-insensitive equality with a lower-case literal."""
    cdef Py_ssize_t i
    if n != m:
        return False
    for i in range(n):
        if LOWER[p[i]] != <unsigned char>lower[i]:
            return False
    return True


cdef inline bint _blank(unsigned char c):
    return c == 32 or c == 9


cdef bint _last_coding_is_chunked(const unsigned char* v, Py_ssize_t n):
    """Whether the value's last comma-separated element, stripped, is ``chunked``."""
    cdef Py_ssize_t a = n, b
    while a > 0 and v[a - 1] != b',':
        a -= 1
    b = n
    while a < b and _blank(v[a]):
        a += 1
    while b > a and _blank(v[b - 1]):
        b -= 1
    return _ci_is(v + a, b - a, b"chunked", 7)


cdef void _connection_tokens(const unsigned char* v, Py_ssize_t n, _Framing* f):
    """Note ``close`` and ``keep-alive`` among a Connection value's tokens."""
    cdef Py_ssize_t a = 0, b, e
    while a <= n:
        b = a
        while b < n and v[b] != b',':
            b += 1
        e = b
        while a < e and _blank(v[a]):
            a += 1
        while e > a and _blank(v[e - 1]):
            e -= 1
        if _ci_is(v + a, e - a, b"close", 5):
            f.close = True
        elif _ci_is(v + a, e - a, b"keep-alive", 10):
            f.keep_alive = True
        a = b + 1


cdef bint _scan_framing(
    list fields, status, version, request_method, request_version, _Framing* f
) except -1:
    """Read the framing facts of ``response``; False where the pure rules must decide
    (an unusual version or method, a Content-Length that is not one run of 1-19
    digits, a framing field that is not latin-1, both TE and CL, ...)."""
    cdef Py_ssize_t nlen, vlen, i
    cdef const unsigned char* n
    cdef const unsigned char* v
    cdef unsigned long long digits
    if version is not _HTTP_1_1:
        return False
    if not (request_version is None or request_version is _HTTP_1_1
            or request_version is _HTTP_1_0):
        return False
    cdef long code = _status_code(status)
    if not 100 <= code <= 999:
        return False
    f.status = code
    is_head = request_method is _M_HEAD or (
        request_method is not _M_GET and request_method == "HEAD"
    )
    f.discard = is_head or f.status < 200 or f.status == 204 or f.status == 304
    f.te_count = f.cl_count = 0
    f.chunked = f.close = f.keep_alive = f.has_date = False
    f.content_length = 0
    for field in fields:
        if type(field) is not tuple or PyTuple_GET_SIZE(field) != 2:
            return False
        name = (<tuple>field)[0]
        if type(name) is not str or PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND:
            continue  # not a framing name (and refused when the head is written)
        nlen = PyUnicode_GET_LENGTH(name)
        if nlen == 4:
            if _ci_is(<const unsigned char*>PyUnicode_1BYTE_DATA(name), 4, b"date", 4):
                f.has_date = True
            continue
        if nlen != 17 and nlen != 14 and nlen != 10:
            continue
        n = <const unsigned char*>PyUnicode_1BYTE_DATA(name)
        value = (<tuple>field)[1]
        if type(value) is not str or PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND:
            if (_ci_is(n, nlen, b"transfer-encoding", 17)
                    or _ci_is(n, nlen, b"content-length", 14)
                    or _ci_is(n, nlen, b"connection", 10)):
                return False
            continue
        v = <const unsigned char*>PyUnicode_1BYTE_DATA(value)
        vlen = PyUnicode_GET_LENGTH(value)
        if _ci_is(n, nlen, b"transfer-encoding", 17):
            f.te_count += 1
            f.chunked = _last_coding_is_chunked(v, vlen)
        elif _ci_is(n, nlen, b"content-length", 14):
            f.cl_count += 1
            if f.cl_count > 1 or vlen == 0 or vlen > 19:
                return False
            digits = 0
            for i in range(vlen):
                if not 48 <= v[i] <= 57:
                    return False
                digits = digits * 10 + (v[i] - 48)  # 19 digits fit unsigned 64 bits
            if digits > <unsigned long long>LLONG_MAX:
                return False
            f.content_length = <long long>digits
        elif _ci_is(n, nlen, b"connection", 10):
            _connection_tokens(v, vlen, f)
    if f.te_count and f.cl_count:
        return False
    return True


cdef Py_ssize_t _format_field(char* out, const char* name, Py_ssize_t nlen, long long value):
    """``name`` then ``value`` in decimal and CRLF, into ``out``; the length written."""
    cdef char digits[24]
    cdef int i = 24
    memcpy(out, name, nlen)
    while True:
        i -= 1
        digits[i] = <char>(48 + value % 10)
        value //= 10
        if value == 0:
            break
    memcpy(out + nlen, digits + i, 24 - i)
    out[nlen + 24 - i] = b'\r'
    out[nlen + 25 - i] = b'\n'
    return nlen + 26 - i


# Copy buffers of idle serializers, by size: a connection holds one only while it has
# copied bytes not yet handed out, so thousands of idle keep-alive connections share a
# few. Pools are safe to share: with the GIL held, ``take`` and ``give`` run whole.
# A whole body of at most this many bytes, given as bytes, is copied beside its head.
cdef Py_ssize_t _COPY_LIMIT = 2048
cdef dict _POOLS = {}  # buffer size: _Pool of 64 buffers (more are freed)
# The queue of a serializer that never queued anything, shared: read, never appended to
# (each append site makes a list of its own first).
cdef list _NO_QUEUE = []


cdef class DateField:
    """The current ``Date`` value that serializers add to responses without one.

    The serializer reads no clock: a runtime that has one keeps this up to date
    (:meth:`set`, once a second) and gives it to the serializers of its connections.
    """

    def __init__(self, str value=""):
        self.set(value)

    def set(self, str value):
        """Make ``value`` (an IMF-fixdate) the current date."""
        try:
            encoded = value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("date is not latin-1 text") from None
        self.value = value
        self.line = b"Date: " + encoded + b"\r\n"
        self.end = self.line + b"\r\n"  # how a head with this date ends


cdef class Serializer:
    """A queue of output bytes with copy and zero-copy writes and flush callbacks."""

    # The fields and the C methods are declared in _serializer.pxd.

    def __init__(self, Py_ssize_t buffer_size=4096):
        if buffer_size <= 0:
            raise ValueError("buffer_size must be positive")
        self._size = buffer_size
        pool = _POOLS.get(buffer_size)
        if pool is None:
            pool = _POOLS[buffer_size] = _Pool(64)
        self._pool = pool
        self._release()  # (no buffer yet: the positions start at 0)
        self._queue = _NO_QUEUE
        self._flushed = None  # a deque once a flush callback waits (rare)
        self._bytes_received = 0
        self._bytes_written = 0
        self._closed = False
        self.waiter = None
        self.date = None

    cpdef wakeup(self):
        """Tell the waiting writer, if any, that there may be output (once)."""
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            waiter()

    cdef void _new_buffer(self, Py_ssize_t size):
        """A buffer of at least ``size`` bytes (from the pool when it is the usual size)."""
        buffer = (<_Pool>self._pool).take() if size <= self._size else None
        self._buffer = bytearray(max(self._size, size)) if buffer is None else buffer
        self._view = None
        self._data = <unsigned char*>PyByteArray_AS_STRING(self._buffer)
        self._capacity = PyByteArray_GET_SIZE(self._buffer)
        self._scheduled_pos = 0
        self._write_pos = 0

    cdef void _release(self):
        """Everything copied was handed out and written: give the buffer back.

        Only the usual size returns to the pool; no view of it is queued any more
        (the runtime reported those bytes written), as when it was reused in place.
        """
        buffer = self._buffer
        self._buffer = None
        self._view = None
        self._data = NULL
        self._capacity = 0
        self._scheduled_pos = 0
        self._write_pos = 0
        if buffer is not None and PyByteArray_GET_SIZE(buffer) == self._size:
            (<_Pool>self._pool).give(buffer)

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
        return self._write_pos != self._scheduled_pos or PyList_GET_SIZE(self._queue) != 0

    cpdef bint is_quiet(self):
        """Whether nothing waits to be written and the serializer is open.

        ``not (has_pending_output or is_closed)``, as a method: the compiled
        connection layer calls it in C (a property is a Python attribute lookup).
        """
        return (
            not self._closed
            and self._write_pos == self._scheduled_pos
            and PyList_GET_SIZE(self._queue) == 0
        )

    # -- copying writes --------------------------------------------------------------

    cdef unsigned char* _reserve(self, Py_ssize_t n) except NULL:
        """Room for ``n`` more copied bytes (a fresh buffer if they do not fit)."""
        if self._closed:
            raise StateError("cannot write to closed writer")
        if self._capacity - self._write_pos < n:
            self._flush_buffer()
            # A fresh buffer: the old one lives on only in queued iovecs.
            self._new_buffer(n)
        return self._data + self._write_pos

    cdef void _copy(self, const void* src, Py_ssize_t n):
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
            if self._view is None:
                self._view = memoryview(self._buffer)
            if self._queue is _NO_QUEUE:
                self._queue = []
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
            if self._queue is _NO_QUEUE:
                self._queue = []
            self._queue.append(view)
            self._bytes_received += n

    def schedulev(self, pieces):
        """Queue each of ``pieces`` in order, none copied."""
        for piece in pieces:
            self.schedule(piece)

    # -- HTTP ------------------------------------------------------------------------

    cdef int _write_fields(self, list fields) except -1:
        """Copy ``name: value\r\n`` for each field (already validated)."""
        cdef Py_ssize_t nlen, vlen
        cdef const unsigned char* n
        cdef const unsigned char* v
        cdef unsigned char* out
        cdef Py_ssize_t i
        for i in range(PyList_GET_SIZE(fields)):
            field = <tuple>PyList_GET_ITEM(fields, i)  # checked by _check_fields
            name = <object>PyTuple_GET_ITEM(field, 0)
            value = <object>PyTuple_GET_ITEM(field, 1)
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

    cdef Py_ssize_t _write_head(
        self, bytes start_line, fields, extra, const char* tail=NULL, Py_ssize_t tail_len=0,
        bytes end=None,
    ) except -1:
        """Validate every field, then copy the start line, the fields, ``extra``, the
        already formatted ``tail`` fields and ``end`` (a last line and the blank line;
        the blank line alone when ``None``); the bytes written."""
        if end is None:
            end = _CRLF
        cdef Py_ssize_t end_len = PyBytes_GET_SIZE(end)
        cdef Py_ssize_t total = len(start_line) + tail_len + end_len
        fields = _pairs(fields)
        _check_fields(fields, &total)
        if extra:
            extra = _pairs(extra)
            _check_fields(extra, &total)
        self._reserve(total)
        self._copy(<const char*>start_line, len(start_line))
        self._write_fields(fields)
        if extra:
            self._write_fields(extra)
        if tail_len:
            self._copy(tail, tail_len)
        self._copy(PyBytes_AS_STRING(end), end_len)
        return total

    def write_response_head(self, response, extra=None):
        """Copy the status line, the header fields, then ``extra`` fields.

        Names must be tokens; CR, LF, NUL and other CTLs are refused in values and the
        reason phrase (``ValueError``), so nothing can be injected into the head.
        """
        status, reason, version, fields = _head_parts(response)
        self._write_head(_status_line_of(status, reason, version), fields, extra)

    def write_framed_response_head(
        self, response, request_method, request_version, body_size, bint persistent
    ):
        """Frame ``response`` as a server sends it and copy its head.

        What :func:`httpaf.model.response_head_framing` decides (with :attr:`date`'s
        value for a response without a ``Date``), computed in C for the usual heads
        (anything else goes through that function, so results and errors are the pure
        twin's). Returns ``(length, discard, persistent)``.
        """
        return self._frame_head(response, request_method, request_version, body_size, persistent)

    cpdef object write_whole_response(
        self, response, request, body, bint persistent, bint copy=False
    ):
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
        if _DIRECT and type(response) is _RESPONSE:
            status = _get(response, _AT_STATUS, "status")
        else:
            status = response.status
        if status < 200:
            raise ValueError(_INTERIM)
        if type(body) is not bytes and type(body) is not bytearray:
            # Any other buffer as flat bytes, so that ``len`` is its size in bytes;
            # what is not one fails here, before anything is written.
            body = memoryview(body)
            if body.ndim != 1 or body.itemsize != 1:
                body = body.cast("B")
        cdef Py_ssize_t size = len(body)
        if self._closed:
            raise StateError("cannot write to closed writer")
        if _DIRECT and type(request) is _REQUEST:
            request_method = _get(request, _AT_METHOD, "method")
            request_version = _get(request, _AT_REQUEST_VERSION, "version")
        else:
            request_method = request.method
            request_version = request.version
        result = <tuple>self._frame_head(
            response, request_method, request_version, size, persistent
        )
        if not <object>PyTuple_GET_ITEM(result, 1):  # not discarded
            if <long long>(<object>PyTuple_GET_ITEM(result, 0)) == CHUNKED_C:
                self.write_chunk(body, copy)
                self.write_last_chunk()
            elif type(body) is bytes and (copy or size <= _COPY_LIMIT):
                self._write_raw(<const char*>(<bytes>body), size)
            elif copy:
                self.write(body)
            else:
                self.schedule(body)
        return <object>PyTuple_GET_ITEM(result, 2)

    cdef object _frame_head(
        self, response, request_method, request_version, body_size, bint persistent
    ):
        """``write_framed_response_head``: the ``(length, discard, persistent)`` tuple."""
        global _seen
        cdef _Framing f
        cdef char tail[64]
        cdef Py_ssize_t tail_len = 0, size, head_len
        cdef long long length
        cdef DateField date = self.date
        if _hc_response is not None and _is_kept(
            response, request_method, request_version, body_size, persistent
        ):
            # Locals: ``_reserve`` may run Python code (a garbage collection, another
            # thread) that keeps another head meanwhile.
            head = _hc_head
            result = _hc_result
            end = date.end if date is not None and not _hc_has_date else _CRLF
            head_len = PyBytes_GET_SIZE(head)
            size = head_len + PyBytes_GET_SIZE(end)
            self._reserve(size)
            self._copy(PyBytes_AS_STRING(head), head_len)
            self._copy(PyBytes_AS_STRING(end), PyBytes_GET_SIZE(end))
            return result
        memset(&f, 0, sizeof(f))
        status, reason, version, fields = _head_parts(response)
        if type(fields) is not list or not _scan_framing(
            fields, status, version, request_method, request_version, &f
        ):
            return self._framed_slowly(
                response, request_method, request_version, body_size, persistent
            )
        if f.te_count:
            length = CHUNKED_C if f.chunked else CLOSE_DELIMITED_C
            if f.chunked and request_version is _HTTP_1_0:
                return self._framed_slowly(
                    response, request_method, request_version, body_size, persistent
                )
        elif f.cl_count:
            length = f.content_length
            if body_size is not None and body_size != length and not f.discard:
                return self._framed_slowly(
                    response, request_method, request_version, body_size, persistent
                )
        elif body_size is not None:
            length = body_size
            if f.status >= 200 and f.status != 204 and f.status != 304:
                tail_len = _format_field(tail, b"Content-Length: ", 16, length)
        else:
            length = CLOSE_DELIMITED_C
        if f.discard:
            length = 0
        persistent = persistent and not f.close and length != CLOSE_DELIMITED_C
        if persistent:
            if request_version is _HTTP_1_0 and not f.keep_alive:
                memcpy(tail + tail_len, b"Connection: keep-alive\r\n", 24)
                tail_len += 24
        elif not f.close:  # the close is announced (RFC 9112 §9.6)
            memcpy(tail + tail_len, b"Connection: close\r\n", 19)
            tail_len += 19
        end = date.end if date is not None and not f.has_date else None
        status_line = _status_line_of(status, reason, version)
        size = self._write_head(status_line, fields, None, tail, tail_len, end)
        result = (length, f.discard, persistent)
        if response is _seen:  # twice in a row: keep it
            if (
                _DIRECT
                and type(response) is _RESPONSE
                and type(<object>_slot(response, _AT_HEADERS)) is _HEADERS
                and type(fields) is list
            ):
                head_len = size - (2 if end is None else PyBytes_GET_SIZE(end))
                _keep_head(
                    response, request_method, request_version, body_size, persistent,
                    f.has_date,
                    PyBytes_FromStringAndSize(
                        <const char*>self._data + self._write_pos - size, head_len
                    ),
                    result,
                )
        else:
            _seen = response
        return result

    def _framed_slowly(self, response, request_method, request_version, body_size, persistent):
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
            if self._flushed is None:
                self._flushed = deque()
            self._flushed.append((self._bytes_received, callback))

    def operation(self):
        """The iovecs to write now, in order; empty when there is nothing to write.

        With nothing pending, :attr:`is_closed` tells whether to close or to wait.
        """
        self._flush_buffer()
        return list(self._queue)

    cpdef object take(self, Py_ssize_t limit):
        """All pending output as one ``bytes``, reported written at once.

        For runtimes whose transport accepts whatever it is given (asyncio's): one
        object to hand over instead of iovecs, copied since the buffers are reused.
        ``None`` when nothing is pending, when more than ``limit`` bytes are, or when
        a flush callback waits (it must run after the bytes reach the transport): then
        use :meth:`operation` and :meth:`shift`.
        """
        cdef Py_ssize_t start = self._scheduled_pos, end = self._write_pos, total = 0
        cdef Py_buffer* piece
        cdef char* out
        if self._flushed:
            return None  # its callbacks must run once the bytes reach the transport
        queue = self._queue
        if not queue:
            # Only copied bytes (the usual head and small body): one copy out.
            total = end - start
            if total == 0 or total > limit:
                return None
            data = PyBytes_FromStringAndSize(<const char*>self._data + start, total)
            self._release()
            self._bytes_received += total
            self._bytes_written += total  # (no flush callback waits: see above)
            return data
        for view in queue:
            piece = PyMemoryView_GET_BUFFER(view)
            if not PyBuffer_IsContiguous(piece, b'C'):
                return None  # a strided view someone scheduled: the iovec path copes
            total += piece.len
        total += end - start
        if total > limit:
            return None
        data = PyBytes_FromStringAndSize(NULL, total)
        out = PyBytes_AS_STRING(data)
        for view in queue:
            piece = PyMemoryView_GET_BUFFER(view)
            memcpy(out, piece.buf, piece.len)
            out += piece.len
        if end > start:
            memcpy(out, self._data + start, end - start)
        del queue[:]
        self._release()
        self._bytes_received += end - start
        self._bytes_written += total
        return data

    cdef int _count_written(self, Py_ssize_t n) except -1:
        """``n`` more bytes are out: fire the flush callbacks they complete."""
        self._bytes_written += n
        flushed = self._flushed
        while flushed and flushed[0][0] <= self._bytes_written:
            flushed.popleft()[1]()
        return 0

    def shift(self, Py_ssize_t n):
        """Drop the first ``n`` queued bytes (reported written) and fire callbacks."""
        cdef Py_ssize_t size, total = 0
        if n < 0:
            raise ValueError(f"cannot shift by a negative number: {n}")
        queue = self._queue
        if n:
            for view in queue:  # every queued iovec is a memoryview of bytes
                total += PyMemoryView_GET_BUFFER(view).len
            if n > total:
                raise ValueError("shift past the end of the pending output")
        self._bytes_written += n
        while n:
            head = queue[0]
            size = PyMemoryView_GET_BUFFER(head).len
            if n < size:
                queue[0] = head[n:]
                break
            del queue[0]
            n -= size
        if not queue and self._scheduled_pos == self._write_pos and self._buffer is not None:
            # Everything handed out has been written: the buffer can go back.
            self._release()
        if self._flushed:
            self._count_written(0)

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
