# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Incremental HTTP/1.1 request and response parsers, in Cython.

The twin of ``_parser_pure.py`` (read its docstring for the contract): same classes,
same events, same ``consumed`` counts, same errors in the same order. Scanning works on
the buffer's bytes through a pointer, with character classes as lookup tables and SSE2
where it pays (one pass over a field line finds its CR, any invalid byte and whether it
holds obs-text); a head is built in one call (method interned, common field names
shared through a C hash table, values made as ASCII or latin-1 str straight from the
bytes, fields gathered in a C array until the list is made, the framing fields noted as
they go by, Request slots stored directly). A line the fast path does not take is
either still arriving or wrong, and the slow path says which error comes first. Only
error messages, rare framing cases and response heads call back into Python helpers
shared with the pure module.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject
from cpython.unicode cimport (
    PyUnicode_DecodeASCII, PyUnicode_DecodeLatin1, PyUnicode_FromOrdinal,
)
from cpython.ref cimport Py_INCREF
from libc.string cimport memchr, memcmp, memcpy


from httpaf.model import Config
from httpaf.model import ParseError
from httpaf.model import Headers
from httpaf.model import (
    END_OF_MESSAGE,
    EndOfMessage,
    Request,
    Response,
    is_chunked,
    parse_content_length,
    response_framing,
)
from httpaf.model import Method
from httpaf.model import check_code
from httpaf.model import HTTP_1_0, HTTP_1_1

from ._parser_pure import (
    _COMMON_NAMES,
    FORBIDDEN_TRAILERS,
    _IN_METHOD,
    _LINE_START,
    MAX_METHOD,
    field_line_fault,
    host_fault,
    request_line_fault,
    _status_line_error,
)

__all__ = [
    "RequestParser",
    "ResponseParser",
    "FORBIDDEN_TRAILERS",
    "borrow_request_parser",
    "lend_request_parser",
]

# Parser states, as in the pure module.
cdef enum:
    _START = 0
    _HEADERS = 1
    _FIXED = 2
    _CHUNK_SIZE = 3
    _CHUNK_NEXT = 4
    _CHUNK_DATA = 5
    _TRAILERS = 6
    _EOF_BODY = 7
    _END = 8
    _FAILED = 9

cdef enum:
    _BATCH = 32  # fields gathered in a C array before they go to a list

cdef enum:
    CHUNKED = -1
    CLOSE_DELIMITED = -2

# Header names the request parser notes while scanning.
cdef enum:
    F_OTHER = 0
    F_HOST = 1
    F_CONTENT_LENGTH = 2
    F_TRANSFER_ENCODING = 3
    F_CONNECTION = 4
    F_EXPECT = 5
    F_UPGRADE = 6

# -- character classes ------------------------------------------------------------------

cdef unsigned char TOKEN[256]  # tchar (RFC 9110 §5.6.2)
cdef unsigned char BAD_FIELD[256]  # CTLs other than HTAB, and DEL (CR, LF handled apart)
cdef unsigned char REASON[256]  # reason-phrase bytes: HTAB, SP, VCHAR, obs-text
cdef unsigned char QDTEXT[256]  # quoted-string text
cdef unsigned char QPAIR[256]  # what may follow a backslash in a quoted-string
cdef signed char HEX[256]  # hex digit value, or -1
cdef unsigned char HOST_NAME[256]  # a Host reg-name's characters (see _parser_pure.host_fault)
cdef unsigned char LOWER[256]  # ASCII lower-casing

cdef void _init_tables():
    cdef int c
    for c in range(256):
        TOKEN[c] = 0
        BAD_FIELD[c] = (c < 32 and c != 9) or c == 127
        REASON[c] = c == 9 or (32 <= c <= 126) or c >= 128
        QDTEXT[c] = (
            c == 9 or c == 32 or c == 0x21 or (0x23 <= c <= 0x5B) or (0x5D <= c <= 0x7E)
            or c >= 0x80
        )
        QPAIR[c] = c == 9 or c == 32 or (0x21 <= c <= 0x7E) or c >= 0x80
        HEX[c] = -1
        LOWER[c] = c + 32 if 65 <= c <= 90 else c
    for c in b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        TOKEN[c] = 1
    for c in range(256):
        HOST_NAME[c] = 0
    for c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+;=":
        HOST_NAME[c] = 1
    for c in range(10):
        HEX[48 + c] = c
    for c in range(6):
        HEX[65 + c] = 10 + c
        HEX[97 + c] = 10 + c

_init_tables()

# The standard methods, interned as Method members.
cdef Py_ssize_t _MAX_METHOD = MAX_METHOD  # the longest method token (_parser_pure)

cdef object M_GET = Method.GET
cdef object M_HEAD = Method.HEAD
cdef object M_POST = Method.POST
cdef object M_PUT = Method.PUT
cdef object M_DELETE = Method.DELETE
cdef object M_CONNECT = Method.CONNECT
cdef object M_OPTIONS = Method.OPTIONS
cdef object M_TRACE = Method.TRACE


cdef object _method(const unsigned char* p, Py_ssize_t n):
    """The method token as a Method member when standard, else a new str."""
    if n == 3:
        if memcmp(p, b"GET", 3) == 0:
            return M_GET
        if memcmp(p, b"PUT", 3) == 0:
            return M_PUT
    elif n == 4:
        if memcmp(p, b"POST", 4) == 0:
            return M_POST
        if memcmp(p, b"HEAD", 4) == 0:
            return M_HEAD
    elif n == 6 and memcmp(p, b"DELETE", 6) == 0:
        return M_DELETE
    elif n == 7:
        if memcmp(p, b"OPTIONS", 7) == 0:
            return M_OPTIONS
        if memcmp(p, b"CONNECT", 7) == 0:
            return M_CONNECT
    elif n == 5 and memcmp(p, b"TRACE", 5) == 0:
        return M_TRACE
    return PyUnicode_DecodeASCII(<const char*>p, n, NULL)


# Field names sent most, in the cases they are sent in: shared str objects, found by
# an open-addressing hash table of C arrays (length and three bytes hash a name).
_KNOWN_NAMES = _COMMON_NAMES + (  # the pure twin's request names, then response ones
    "Server", "Set-Cookie", "ETag", "Last-Modified", "Location", "Vary", "Expires", "Age",
    "Accept-Ranges", "Content-Range", "Content-Disposition", "Content-Language",
    "Access-Control-Allow-Origin", "Strict-Transport-Security", "X-Content-Type-Options",
    "X-Frame-Options", "WWW-Authenticate", "Retry-After", "Alt-Svc", "Link",
)
cdef enum:
    _NAME_SLOTS = 512  # a power of two
cdef const unsigned char* _name_text[_NAME_SLOTS]
cdef Py_ssize_t _name_len[_NAME_SLOTS]
cdef PyObject* _name_obj[_NAME_SLOTS]
cdef int _name_kind[_NAME_SLOTS]
cdef list _name_keep = []  # owns the bytes and str objects the arrays point at


cdef inline unsigned int _name_hash(const unsigned char* p, Py_ssize_t n):
    return (
        <unsigned int>n * 31 + p[0] * 7 + p[n >> 1] * 3 + p[n - 1]
    ) & (_NAME_SLOTS - 1)


cdef enum:
    _NEW_NAME = -1  # not in the table
    _BAD_NAME = -2  # no name, no colon, or not a token


cdef inline bint _all_tokens(const unsigned char* p, Py_ssize_t n):
    cdef Py_ssize_t i
    for i in range(n):
        if not TOKEN[p[i]]:
            return False
    return True


cdef inline int _name_slot(const unsigned char* p, Py_ssize_t n):
    """The table slot of the name ``p[:n]``, or _NEW_NAME."""
    cdef unsigned int h = _name_hash(p, n)
    while _name_text[h] != NULL:
        if _name_len[h] == n and httpaf_same(_name_text[h], p, n):
            return h
        h = (h + 1) & (_NAME_SLOTS - 1)
    return _NEW_NAME


cdef void _add_name(str name):
    cdef bytes raw = name.encode("ascii")
    cdef const unsigned char* p = raw
    cdef Py_ssize_t n = len(raw)
    cdef unsigned int h = _name_hash(p, n)
    if _name_slot(p, n) >= 0:
        return
    while _name_text[h] != NULL:
        h = (h + 1) & (_NAME_SLOTS - 1)
    _name_keep.append(raw)
    _name_keep.append(name)
    _name_text[h] = p
    _name_len[h] = n
    _name_obj[h] = <PyObject*>name
    _name_kind[h] = _field_kind(p, n)


cdef inline bint _ci_equal(const unsigned char* p, Py_ssize_t n, const char* lower, Py_ssize_t m):
    """ASCII case-insensitive equality with a lower-case literal."""
    cdef Py_ssize_t i
    if n != m:
        return False
    for i in range(n):
        if LOWER[p[i]] != <unsigned char>lower[i]:
            return False
    return True


cdef int _field_kind(const unsigned char* p, Py_ssize_t n):
    if n == 4 and _ci_equal(p, n, b"host", 4):
        return F_HOST
    if n == 14 and _ci_equal(p, n, b"content-length", 14):
        return F_CONTENT_LENGTH
    if n == 17 and _ci_equal(p, n, b"transfer-encoding", 17):
        return F_TRANSFER_ENCODING
    if n == 10 and _ci_equal(p, n, b"connection", 10):
        return F_CONNECTION
    if n == 6 and _ci_equal(p, n, b"expect", 6):
        return F_EXPECT
    if n == 7 and _ci_equal(p, n, b"upgrade", 7):
        return F_UPGRADE
    return F_OTHER


for _name in _KNOWN_NAMES:
    _add_name(_name)
    _add_name(_name.lower())


cdef inline Py_ssize_t _find(
    const unsigned char* data, Py_ssize_t start, Py_ssize_t stop, unsigned char c
):
    """Index of ``c`` in ``data[start:stop]``, or -1 (``bytes.find``)."""
    if stop <= start:
        return -1
    cdef const void* hit = memchr(data + start, c, stop - start)
    if hit == NULL:
        return -1
    return <const unsigned char*>hit - data


cdef extern from *:
    """
    /* httpaf_scan: the first CTL other than HTAB, or DEL, in d[i:end], or -1 (a field
       line's CR is such a byte, so on a valid line it finds the CR). *high tells
       whether a byte >= 0x80 (obs-text) comes before it. Sixteen bytes at a time with
       SSE2 (every x86-64); the loads may look past `end` but never past `size`, the
       buffer's length. Eight bytes at a time with SWAR elsewhere. */
    #if defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    #define HTTPAF_SSE2 1
    #endif
    #include <string.h>
    #include <stdint.h>
    static const unsigned char *httpaf_bad_table;
    static inline int httpaf_ctz(unsigned int m) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_ctz(m);
    #else
        int k = 0;
        while (!(m & 1)) { m >>= 1; k++; }
        return k;
    #endif
    }
    #ifdef HTTPAF_SSE2
    /* The bytes of v that stop a field line scan (CTLs but HTAB, and DEL) and obs-text:
       v + 1 is below 0x21 as a signed byte exactly for those, HTAB aside. */
    static inline unsigned int httpaf_stops(__m128i v) {
        const __m128i one = _mm_set1_epi8(1), x21 = _mm_set1_epi8(0x21),
                      tab = _mm_set1_epi8(0x09);
        __m128i low = _mm_cmplt_epi8(_mm_add_epi8(v, one), x21);
        return (unsigned int)_mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), low));
    }
    #endif
    static inline Py_ssize_t httpaf_scan(const unsigned char *d, Py_ssize_t i,
                                         Py_ssize_t end, Py_ssize_t size, int *high) {
        unsigned int hi = 0;
    #ifdef HTTPAF_SSE2
        unsigned int mask;
        int k;
        for (; i + 16 <= end; i += 16) {
            mask = httpaf_stops(_mm_loadu_si128((const __m128i *)(d + i)));
            for (; mask; mask &= mask - 1) {
                k = httpaf_ctz(mask);
                if (d[i + k] < 0x80) {
                    *high = hi != 0;
                    return i + k;
                }
                hi = 1;  /* obs-text: noted, and the scan goes on */
            }
        }
        if (i < end && i + 16 <= size) {  /* the last, partial block: one load */
            mask = httpaf_stops(_mm_loadu_si128((const __m128i *)(d + i)))
                   & ((1u << (end - i)) - 1u);
            for (; mask; mask &= mask - 1) {
                k = httpaf_ctz(mask);
                if (d[i + k] < 0x80) {
                    *high = hi != 0;
                    return i + k;
                }
                hi = 1;
            }
            *high = hi != 0;
            return -1;
        }
    #else
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        (void)size;
        while (i + 8 <= end) {
            uint64_t w, x;
            memcpy(&w, d + i, 8);
            x = w ^ 0x7F7F7F7F7F7F7F7FULL;
            if (((w - 0x2020202020202020ULL) & ~w & highs) | ((x - ones) & ~x & highs)) break;
            hi |= (w & highs) != 0;
            i += 8;
        }
    #endif
        for (; i < end; i++) {
            unsigned char c = d[i];
            if (httpaf_bad_table[c]) {
                *high = hi != 0;
                return i;
            }
            hi |= c & 0x80u;
        }
        *high = hi != 0;
        return -1;
    }
    /* httpaf_vchars: the first byte of d[i:end] that is not visible ASCII (0x21-0x7E),
       or end. */
    static inline Py_ssize_t httpaf_vchars(const unsigned char *d, Py_ssize_t i,
                                           Py_ssize_t end) {
    #ifdef HTTPAF_SSE2
        const __m128i flip = _mm_set1_epi8((char)0x80), above = _mm_set1_epi8(-96),
                      below = _mm_set1_epi8(-1);
        while (i + 16 <= end) {
            __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(d + i)), flip);
            __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(x, above), _mm_cmplt_epi8(x, below));
            unsigned int mask = ~(unsigned int)_mm_movemask_epi8(ok) & 0xFFFFu;
            if (mask) return i + httpaf_ctz(mask);
            i += 16;
        }
    #endif
        while (i < end && d[i] >= 0x21 && d[i] <= 0x7E) i++;
        return i;
    }
    /* httpaf_same: whether a[:n] == b[:n], for the short n of field names, inline. */
    static inline int httpaf_same(const unsigned char *a, const unsigned char *b,
                                  Py_ssize_t n) {
        uint64_t x, y;
        uint32_t u, w;
        uint16_t s, t;
        for (; n >= 8; a += 8, b += 8, n -= 8) {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y) return 0;
        }
        if (n >= 4) {  /* the first and the last four bytes, overlapping */
            memcpy(&u, a, 4); memcpy(&w, b, 4);
            if (u != w) return 0;
            memcpy(&u, a + n - 4, 4); memcpy(&w, b + n - 4, 4);
            return u == w;
        }
        if (n >= 2) {
            memcpy(&s, a, 2); memcpy(&t, b, 2);
            if (s != t) return 0;
            memcpy(&s, a + n - 2, 2); memcpy(&t, b + n - 2, 2);
            return s == t;
        }
        return n == 0 || a[0] == b[0];
    }
    /* httpaf_colon: the first ':' in d[i:end], or end. */
    static inline Py_ssize_t httpaf_colon(const unsigned char *d, Py_ssize_t i,
                                          Py_ssize_t end) {
    #ifdef HTTPAF_SSE2
        const __m128i colon = _mm_set1_epi8(':');
        while (i + 16 <= end) {
            unsigned int mask = (unsigned int)_mm_movemask_epi8(
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(d + i)), colon));
            if (mask) return i + httpaf_ctz(mask);
            i += 16;
        }
    #endif
        while (i < end && d[i] != ':') i++;
        return i;
    }
    """
    const unsigned char* httpaf_bad_table
    Py_ssize_t httpaf_colon(const unsigned char* d, Py_ssize_t i, Py_ssize_t end) nogil
    bint httpaf_same(const unsigned char* a, const unsigned char* b, Py_ssize_t n) nogil
    Py_ssize_t httpaf_vchars(const unsigned char* d, Py_ssize_t i, Py_ssize_t end) nogil
    Py_ssize_t httpaf_scan(
        const unsigned char* d, Py_ssize_t i, Py_ssize_t end, Py_ssize_t size, int* high
    ) nogil

httpaf_bad_table = BAD_FIELD


cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object)
    # Lists filled through borrowed pointers (NULL on failure, exception set).
    PyObject* _list_new "PyList_New"(Py_ssize_t size)
    void _list_set_item "PyList_SET_ITEM"(PyObject* op, Py_ssize_t i, PyObject* item)
    int _list_append "PyList_Append"(PyObject* op, PyObject* item)
    void _decref "Py_DECREF"(PyObject* op)


cdef inline str _str_of(const unsigned char* p, Py_ssize_t n, Py_UCS4 maxchar):
    """``p[:n]`` as str, when every byte is known to be at most ``maxchar`` (127: all
    ASCII; 255: latin-1 with at least one byte above 127, so the str is canonical)."""
    if n == 1:
        return PyUnicode_FromOrdinal(p[0])  # CPython's cached one-character strings
    s = PyUnicode_New(n, maxchar)
    memcpy(PyUnicode_DATA(s), p, n)
    return s


include "_slots.pxi"
include "_pool.pxi"

# The slot descriptors of Request and Headers, set directly (no attribute lookup).
cdef object _D_METHOD = Request.__dict__["method"]
cdef object _D_TARGET = Request.__dict__["target"]
cdef object _D_VERSION = Request.__dict__["version"]
cdef object _D_HEADERS = Request.__dict__["headers"]
cdef object _D_FIELDS = Headers.__dict__["_fields"]


cdef inline int _set_slot(object descriptor, object obj, object value) except -1:
    return Py_TYPE(descriptor).tp_descr_set(descriptor, obj, value)


# The byte offsets of those slots: a new Request (or Headers) has them all NULL, so the
# parser stores straight into them. -1 if the classes ever stop being plain slots.
cdef Py_ssize_t _AT_METHOD = _slot_offset(_D_METHOD, Request)
cdef Py_ssize_t _AT_TARGET = _slot_offset(_D_TARGET, Request)
cdef Py_ssize_t _AT_VERSION = _slot_offset(_D_VERSION, Request)
cdef Py_ssize_t _AT_HEADERS = _slot_offset(_D_HEADERS, Request)
cdef Py_ssize_t _AT_FIELDS = _slot_offset(_D_FIELDS, Headers)
cdef bint _DIRECT = min(_AT_METHOD, _AT_TARGET, _AT_VERSION, _AT_HEADERS, _AT_FIELDS) > 0


cdef inline void _put(object obj, Py_ssize_t offset, object value):
    """Store ``value`` in the (NULL) slot at ``offset`` of a new ``obj``."""
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + offset))[0] = <PyObject*>value


# Module globals the hot path reads, as C variables (no dictionary lookups).
cdef object _HEADERS_TYPE = Headers
cdef object _REQUEST_TYPE = Request
cdef object _RESPONSE_TYPE = Response
cdef object _HTTP_1_1 = HTTP_1_1
cdef object _HTTP_1_0 = HTTP_1_0
cdef object _END_OF_MESSAGE = END_OF_MESSAGE
cdef tuple _NO_ARGS = ()


cdef inline object _alloc(object cls):
    """``cls.__new__(cls)`` through the type slot, without looking ``__new__`` up."""
    return (<PyTypeObject*>cls).tp_new(cls, <PyObject*>_NO_ARGS, NULL)


cdef object _new_headers(list fields):
    headers = _alloc(_HEADERS_TYPE)
    if _DIRECT:
        _put(headers, _AT_FIELDS, fields)
    else:
        _set_slot(_D_FIELDS, headers, fields)
    return headers


cdef object _new_request(method, target, version, list fields):
    """A Request without running ``__init__`` (the parser has checked everything)."""
    headers = _new_headers(fields)
    request = _alloc(_REQUEST_TYPE)
    if _DIRECT:
        _put(request, _AT_METHOD, method)
        _put(request, _AT_TARGET, target)
        _put(request, _AT_VERSION, version)
        _put(request, _AT_HEADERS, headers)
    else:
        _set_slot(_D_METHOD, request, method)
        _set_slot(_D_TARGET, request, target)
        _set_slot(_D_VERSION, request, version)
        _set_slot(_D_HEADERS, request, headers)
    return request


# The limits of the last Config seen: one Config usually serves every parser.
cdef object _cached_config = None
cdef _Limits _cached_limits


cdef int _load_limits(config) except -1:
    """Read ``config``'s limits into the cache."""
    global _cached_config, _cached_limits
    cdef _Limits lim
    lim.max_request_line = config.max_request_line
    lim.max_field = config.max_field_size
    lim.max_head = config.max_head_size
    lim.max_headers = config.max_headers
    lim.max_chunk_line = config.max_chunk_line
    lim.max_trailer_size = config.max_trailer_size
    lim.max_trailers = config.max_trailers
    lim.max_body = -1 if config.max_body_size is None else config.max_body_size
    lim.require_host = bool(config.require_host)
    _cached_limits = lim
    _cached_config = config
    return 0


cdef class _Parser:
    """What request and response parsers share: fields, bodies, chunks, trailers."""

    # The fields and the C methods are declared in _parser.pxd.

    def __cinit__(self, config=None):
        # C fields start zeroed and object fields None: only the others are set here.
        if config is None:
            config = Config()
        self.config = config
        self.body_length = 0
        self.keep_alive = True
        self._checks_body_size = True  # ResponseParser turns it off
        if config is not _cached_config:
            _load_limits(config)
        self._lim = _cached_limits
        self._head_limit = self._lim.max_head

    @cython.final
    cdef void _reset_notes(self) noexcept:
        self._hosts = 0
        self._host_fault = None
        self._cl = None
        self._te = None
        self._conn_close = self._conn_keep_alive = self._conn_upgrade = False
        self._expect = self._upgrade_field = False

    @property
    def is_idle(self):
        """Whether the parser is at a message boundary with nothing pending."""
        return self._state == _START

    cpdef bint at_message_boundary(self):
        """:attr:`is_idle` as a method, which the compiled connection layer calls in C."""
        return self._state == _START

    @property
    def is_failed(self):
        """Whether a parse error stopped the parser for good."""
        return self._state == _FAILED

    @cython.final
    cdef object _fail(self, str message, int status, Py_ssize_t consumed):
        error = ParseError(message, status)
        self._state = _FAILED
        self._error = error
        self.consumed = consumed
        return error

    # -- the driver ------------------------------------------------------------------

    cpdef object parse(self, buf, Py_ssize_t start=0, end=None, bint eof=False):
        """Parse ``buf[start:end]``; return one event (see ``_parser_pure``)."""
        cdef Py_buffer view
        cdef Py_ssize_t size
        if type(buf) is bytearray:
            self._data = <const unsigned char*>PyByteArray_AS_STRING(buf)
            size = PyByteArray_GET_SIZE(buf)
        elif type(buf) is bytes:
            self._data = <const unsigned char*>PyBytes_AS_STRING(buf)
            size = PyBytes_GET_SIZE(buf)
        else:
            # Other buffers: copy into bytes once (not a hot path).
            PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
            try:
                buf = (<const char*>view.buf)[:view.len]
            finally:
                PyBuffer_Release(&view)
            self._data = <const unsigned char*>PyBytes_AS_STRING(buf)
            size = PyBytes_GET_SIZE(buf)
        cdef Py_ssize_t stop = size if end is None else end
        if start < 0 or stop > size or start > stop:
            raise ValueError("parse: start and end must be within the buffer")
        self._buf = buf
        self._size = size
        try:
            return self._step(start, stop, eof)
        finally:
            self._buf = None
            self._data = NULL

    @cython.final
    cdef object _step(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        self.consumed = 0
        cdef int state = self._state
        if state == _START:
            return self._parse_start(start, end, eof)
        if state == _HEADERS:
            return self._parse_headers(start, end, eof)
        if state == _FIXED:
            return self._parse_fixed(start, end, eof)
        if state == _END:
            self._state = _START
            return _END_OF_MESSAGE
        if state == _CHUNK_DATA:
            return self._parse_chunk_data(start, end, eof)
        if state == _CHUNK_SIZE or state == _CHUNK_NEXT:
            return self._parse_chunk_size(start, end, eof)
        if state == _TRAILERS:
            return self._parse_trailers(start, end, eof)
        if state == _EOF_BODY:
            return self._parse_eof_body(start, end, eof)
        error = self._error
        raise ParseError(
            error.message if error else "parser failed", error.status if error else 400
        )

    cdef object _parse_start(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        raise NotImplementedError

    cdef object _parse_headers(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        raise NotImplementedError

    @cython.final
    cdef object _slice(self, Py_ssize_t start, Py_ssize_t n):
        return memoryview(self._buf)[start : start + n]

    # -- blocks of fields ------------------------------------------------------------

    @cython.final
    cdef Py_ssize_t _scan_block(
        self, Py_ssize_t start, Py_ssize_t end, bint eof, Py_ssize_t limit,
        Py_ssize_t max_count, str what, int status,
    ) except -2:
        """Check a field block's lines as they arrive; the index past its blank line, or -1.

        Each complete line is validated once, in order, and its field kept (``_scanned``
        remembers where the next line starts, relative to ``start``, which the caller
        presents again). Fields of well-formed lines gather in a C array first, so a
        head's list is made once at its final size.
        """
        cdef const unsigned char* data = self._data
        cdef Py_ssize_t pos = start + self._scanned
        cdef Py_ssize_t stop = min(end, start + limit)
        cdef Py_ssize_t max_field = self._lim.max_field
        cdef Py_ssize_t size = self._size
        cdef Py_ssize_t line_stop, lf, cr, colon, n, v0, v1, have, count = 0
        cdef PyObject* batch[_BATCH]
        cdef int high, slot, kind
        cdef bint note = self._note_fields
        have = 0 if self._fields is None else PyList_GET_SIZE(self._fields)
        try:
            while True:
                line_stop = min(stop, pos + max_field)
                # The common case: valid bytes up to the line's CRLF, found in one scan.
                cr = httpaf_scan(data, pos, line_stop, size, &high)
                if cr >= 0 and data[cr] == 13 and cr + 1 < line_stop and data[cr + 1] == 10:
                    if cr == pos:
                        self._keep(batch, count)
                        count = 0
                        self._scanned = self._checked = self._line_state = 0
                        return cr + 2
                    # The name is what comes before the first colon (not a tchar).
                    colon = httpaf_colon(data, pos, cr)
                    n = colon - pos
                    slot = _name_slot(data + pos, n) if n and colon < cr else _BAD_NAME
                    if slot == _NEW_NAME and not _all_tokens(data + pos, n):
                        slot = _BAD_NAME
                    if slot != _BAD_NAME:  # else _line_error says what is wrong
                        if have + count >= max_count:
                            raise self._fail(f"too many {what} fields", 431, 0)
                        v0 = colon + 1
                        v1 = cr
                        while v0 < v1 and (data[v0] == 32 or data[v0] == 9):
                            v0 += 1
                        while v1 > v0 and (data[v1 - 1] == 32 or data[v1 - 1] == 9):
                            v1 -= 1
                        if slot >= 0:
                            name = <object>_name_obj[slot]
                            kind = _name_kind[slot]
                        else:
                            name = _str_of(data + pos, n, 127)
                            kind = _field_kind(data + pos, n) if note else F_OTHER
                        value = _str_of(data + v0, v1 - v0, 255 if high else 127)
                        if kind != F_OTHER and note:
                            self._note(kind, data + v0, v1 - v0, value)
                        field = (name, value)
                        Py_INCREF(field)
                        batch[count] = <PyObject*>field
                        count += 1
                        if count == _BATCH:
                            self._keep(batch, count)
                            have += count
                            count = 0
                        pos = cr + 2
                        self._checked = self._line_state = 0
                        continue
                # Anything else is a line still arriving, or an error.
                lf = _find(data, pos, line_stop, b'\n')
                if lf < 0:
                    break
                self._line_error(pos, lf, what)
        finally:
            if count:  # the fields so far, for the next call (or an error)
                self._keep(batch, count)
        self._scanned = pos - start
        # The line at ``pos`` is not all here: a byte no grammar allows is an error now,
        # before any limit (the check, _parser_pure's, resumes where the last stopped).
        if pos + self._checked < line_stop:
            fault, checked, self._line_state = field_line_fault(
                self._buf, pos + self._checked, line_stop, self._line_state, what
            )
            if fault is not None:
                raise self._fail(fault, 400, 0)
            self._checked = checked - pos
        if line_stop - pos >= max_field:
            raise self._fail(f"{what} field too large", 431, 0)
        if end - start >= limit:
            raise self._fail(f"{what} section too large", status, 0)
        if eof:
            raise self._fail(f"unexpected end of input in {what} section", 400, 0)
        return -1

    @cython.final
    cdef int _keep(self, PyObject** batch, Py_ssize_t count) except -1:
        """Move ``count`` fields (references owned by ``batch``) to the end of ``_fields``."""
        cdef Py_ssize_t i
        cdef PyObject* fields
        cdef bint failed = False
        if self._fields is None:
            fields = _list_new(count)
            if fields == NULL:
                for i in range(count):
                    _decref(batch[i])
                return -1
            for i in range(count):
                _list_set_item(fields, i, batch[i])  # steals the reference
            self._fields = <list>fields
            _decref(fields)
            return 0
        fields = <PyObject*>self._fields
        for i in range(count):
            if _list_append(fields, batch[i]) < 0:
                failed = True
            _decref(batch[i])
        return -1 if failed else 0

    @cython.final
    cdef int _line_error(self, Py_ssize_t pos, Py_ssize_t lf, str what) except -1:
        """Raise what is wrong with the line ``data[pos:lf + 1]``, which is not a field
        line: the first fault in byte order (_parser_pure's rule; a valid line takes the
        fast path)."""
        fault = field_line_fault(self._buf, pos, lf + 1, _LINE_START, what)[0]
        raise self._fail(fault or f"invalid {what} field line", 400, 0)

    @cython.final
    cdef int _note(
        self, int kind, const unsigned char* v, Py_ssize_t n, object value
    ) except -1:
        """Remember what a framing field says (as ``_describe`` reads it in the pure twin)."""
        cdef Py_ssize_t i, a, b
        if kind == F_HOST:
            self._hosts += 1
            # The usual host (and port) checked here, the one this parser saw valid last
            # at once; anything else by the rule itself (``_host_fault`` is None from
            # ``_reset_notes``).
            known = self._valid_host
            if (
                known is not None
                and PyBytes_GET_SIZE(known) == n
                and memcmp(PyBytes_AS_STRING(known), v, n) == 0
            ):
                return 0
            i = 0
            while i < n and HOST_NAME[v[i]]:
                i += 1
            if i < n and v[i] == b':':
                i += 1
                while i < n and <unsigned char>(v[i] - 48) < 10:
                    i += 1
            if i == n:
                self._valid_host = PyBytes_FromStringAndSize(<const char*>v, n)
            else:
                self._host_fault = host_fault(value)
        elif kind == F_CONTENT_LENGTH:
            if self._cl is None:
                self._cl = []
            self._cl.append(value)
        elif kind == F_TRANSFER_ENCODING:
            if self._te is None:
                self._te = []
            self._te.append(value)
        elif kind == F_CONNECTION:
            # Comma-separated tokens, each stripped of SP/HTAB, compared lower-cased.
            a = 0
            while a <= n:
                b = a
                while b < n and v[b] != b',':
                    b += 1
                i = b
                while a < i and (v[a] == 32 or v[a] == 9):
                    a += 1
                while i > a and (v[i - 1] == 32 or v[i - 1] == 9):
                    i -= 1
                if _ci_equal(v + a, i - a, b"close", 5):
                    self._conn_close = True
                elif _ci_equal(v + a, i - a, b"keep-alive", 10):
                    self._conn_keep_alive = True
                elif _ci_equal(v + a, i - a, b"upgrade", 7):
                    self._conn_upgrade = True
                a = b + 1
        elif kind == F_EXPECT:
            if _ci_equal(v, n, b"100-continue", 12):
                self._expect = True
        elif kind == F_UPGRADE:
            self._upgrade_field = True
        return 0

    @cython.final
    cdef list _take_fields(self):
        fields = self._fields
        if fields is None:
            return []
        self._fields = None
        return fields

    # -- bodies ----------------------------------------------------------------------

    @cython.final
    cdef int _start_body(self, object length) except -1:
        if length == 0:
            self._state = _START
        elif length == CHUNKED:
            self._state = _CHUNK_SIZE
            self._body_seen = 0
        elif length == CLOSE_DELIMITED:
            self._state = _EOF_BODY
        else:
            self._state = _FIXED
            self._remaining = length
        return 0

    @cython.final
    cdef object _parse_fixed(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        return self._take(start, end, eof, _END, "unexpected end of input in body")

    @cython.final
    cdef object _take(self, Py_ssize_t start, Py_ssize_t end, bint eof, int done, str truncated):
        """Body bytes of a known remaining length; ``done`` is the state after them."""
        cdef unsigned long long avail = end - start
        cdef Py_ssize_t n = <Py_ssize_t>(self._remaining if self._remaining < avail else avail)
        if n == 0:
            if eof:
                raise self._fail(truncated, 400, 0)
            return None
        self._remaining -= n
        if self._remaining == 0:
            self._state = done
        self.consumed = n
        return self._slice(start, n)

    @cython.final
    cdef object _parse_eof_body(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        if start < end:
            self.consumed = end - start
            return self._slice(start, end - start)
        if eof:
            self._state = _START
            return END_OF_MESSAGE
        return None

    @cython.final
    cdef object _parse_chunk_data(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        return self._take(start, end, eof, _CHUNK_NEXT, "unexpected end of input in chunk")

    @cython.final
    cdef object _parse_chunk_size(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        cdef const unsigned char* data = self._data
        cdef Py_ssize_t pos = start, lf, limit, offset
        cdef unsigned long long size
        if self._state == _CHUNK_NEXT:
            if end - start < 2:
                if eof or (end > start and data[start] != 13):
                    raise self._fail("missing CRLF after chunk data", 400, 0)
                return None
            if data[start] != 13 or data[start + 1] != 10:
                raise self._fail("missing CRLF after chunk data", 400, 0)
            pos += 2
        limit = self._lim.max_chunk_line
        lf = _find(data, pos, min(end, pos + limit), b'\n')
        if lf < 0:
            if end - pos >= limit:
                raise self._fail("chunk-size line too long", 400, 0)
            if eof:
                raise self._fail("unexpected end of input in chunk-size line", 400, 0)
            return None
        if not _chunk_line(data, pos, lf, &size):
            raise self._fail("invalid chunk-size line", 400, 0)
        offset = lf + 1 - start
        self.consumed = offset
        if size == 0:
            self._state = _TRAILERS
            return self._then_trailers(offset, lf + 1, end, eof)
        if self._body_seen + size < self._body_seen:
            self._body_seen = <unsigned long long>-1  # saturate
        else:
            self._body_seen += size
        if (
            self._checks_body_size
            and self._lim.max_body >= 0
            and self._body_seen > <unsigned long long>self._lim.max_body
        ):
            raise self._fail("body too large", 413, offset)
        self._remaining = size
        self._state = _CHUNK_DATA
        self.consumed = 0
        try:
            return self._parse_chunk_data(lf + 1, end, eof)
        finally:
            self.consumed += offset

    @cython.final
    cdef object _then_trailers(self, Py_ssize_t offset, Py_ssize_t start, Py_ssize_t end, bint eof):
        self.consumed = 0
        try:
            return self._parse_trailers(start, end, eof)
        finally:
            self.consumed += offset

    @cython.final
    cdef object _parse_trailers(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        self._note_fields = False
        cdef Py_ssize_t block_end = self._scan_block(
            start, end, eof, self._lim.max_trailer_size, self._lim.max_trailers, "trailer", 431
        )
        if block_end < 0:
            return None
        fields = self._take_fields()
        self.consumed = block_end - start
        self._state = _START
        if not fields:
            return END_OF_MESSAGE
        for name, _ in fields:
            if name.lower() in FORBIDDEN_TRAILERS:
                raise self._fail(f"forbidden trailer field: {name}", 400, 0)
        return EndOfMessage(_new_headers(fields))


cdef bint _chunk_line(
    const unsigned char* d, Py_ssize_t pos, Py_ssize_t lf, unsigned long long* size
):
    """Match ``1*16HEXDIG *chunk-ext CRLF`` exactly over ``d[pos:lf + 1]``."""
    cdef Py_ssize_t i = pos, save, digits = 0
    cdef unsigned long long n = 0
    cdef Py_ssize_t text_end = lf - 1  # where the CR must be
    if lf - pos < 2 or d[text_end] != 13:
        return False
    while i < text_end and HEX[d[i]] >= 0:
        n = (n << 4) | <unsigned long long>HEX[d[i]]
        i += 1
        digits += 1
    if digits == 0 or digits > 16:
        return False
    # chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
    while True:
        save = i
        while i < text_end and (d[i] == 32 or d[i] == 9):
            i += 1
        if i >= text_end or d[i] != b';':
            i = save
            break
        i += 1
        while i < text_end and (d[i] == 32 or d[i] == 9):
            i += 1
        if i >= text_end or not TOKEN[d[i]]:
            return False
        while i < text_end and TOKEN[d[i]]:
            i += 1
        save = i
        while i < text_end and (d[i] == 32 or d[i] == 9):
            i += 1
        if i < text_end and d[i] == b'=':
            i += 1
            while i < text_end and (d[i] == 32 or d[i] == 9):
                i += 1
            if i < text_end and TOKEN[d[i]]:
                while i < text_end and TOKEN[d[i]]:
                    i += 1
            elif i < text_end and d[i] == b'"':
                i += 1
                while True:
                    if i >= text_end:
                        return False
                    if d[i] == b'"':
                        i += 1
                        break
                    if d[i] == b'\\':
                        if i + 1 >= text_end or not QPAIR[d[i + 1]]:
                            return False
                        i += 2
                    elif QDTEXT[d[i]]:
                        i += 1
                    else:
                        return False
            else:
                return False
        else:
            i = save
    if i != text_end:
        return False
    size[0] = n
    return True


cdef long long _digits(str value):
    """1 to 18 ASCII digits as a number; -1 for anything else (the slow path decides).

    Nineteen-digit values go to ``parse_content_length`` too: they may not fit.
    """
    cdef Py_ssize_t n = len(value), i
    cdef long long result = 0
    cdef long d
    if n == 0 or n > 18:
        return -1
    for i in range(n):
        d = <long>(<Py_UCS4>value[i]) - 48
        if d < 0 or d > 9:
            return -1
        result = result * 10 + d
    return result


cdef class RequestParser(_Parser):
    """Parses the requests a server receives."""

    cdef object _parse_start(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        cdef const unsigned char* data = self._data
        cdef Py_ssize_t pos = start, lf, limit, stop, sp1, sp2, i, offset
        # RFC 9112 §2.2: ignore empty lines before the request line.
        while end - pos >= 2 and data[pos] == 13 and data[pos + 1] == 10:
            pos += 2
        self.consumed = pos - start
        if pos == end:
            return None
        if data[pos] == 13 and end - pos >= 2:
            raise self._fail("bare CR before request line", 400, self.consumed)
        limit = self._lim.max_request_line
        stop = min(end, pos + limit)
        lf = _find(data, pos, stop, b'\n')
        if lf < 0:
            # Not all here: a byte no grammar allows is an error now, before the limit
            # (the check, _parser_pure's, resumes where the last call's stopped).
            if pos + self._checked < stop:
                fault, i, part, mark = request_line_fault(
                    self._buf, pos, pos + self._checked, stop, self._line_state,
                    pos + self._mark,
                )
                if fault is not None:
                    raise self._fail(fault.message, fault.status, self.consumed)
                self._checked = i - pos
                self._line_state = part
                self._mark = mark - pos
            if end - pos >= limit:
                raise self._fail("request line too long", 414, self.consumed)
            if eof:
                raise self._fail("unexpected end of input in request line", 400, self.consumed)
            return None
        self._checked = self._line_state = self._mark = 0
        # method SP target SP "HTTP/1." ("0" / "1") CRLF, all of it.
        i = pos
        while i < lf and TOKEN[data[i]]:
            i += 1
        sp1 = i
        ok = pos < sp1 <= pos + _MAX_METHOD and sp1 < lf and data[sp1] == 32
        if ok:
            sp2 = httpaf_vchars(data, sp1 + 1, lf)
            ok = (
                sp2 > sp1 + 1
                and lf - sp2 == 10
                and data[sp2] == 32
                and memcmp(data + sp2 + 1, b"HTTP/1.", 7) == 0
                and (data[sp2 + 8] == b'0' or data[sp2 + 8] == b'1')
                and data[sp2 + 9] == 13
            )
        if not ok:
            error = request_line_fault(self._buf, pos, pos, lf + 1, _IN_METHOD, pos)[0]
            if error is None:  # (cannot be: the line has its LF)
                error = ParseError("invalid request line")
            raise self._fail(error.message, error.status, self.consumed)
        method = _method(data + pos, sp1 - pos)
        target = _str_of(data + sp1 + 1, sp2 - sp1 - 1, 127)  # VCHARs: ASCII
        self._check_target_form(method, target, data + sp1 + 1, sp2 - sp1 - 1)
        self._method = method
        self._target = target
        self._version = _HTTP_1_1 if data[sp2 + 8] == b'1' else _HTTP_1_0
        self._head_limit = self._lim.max_head - (lf + 1 - pos)
        self._state = _HEADERS
        self._reset_notes()
        offset = lf + 1 - start
        self.consumed = 0
        try:
            return self._parse_headers(lf + 1, end, eof)
        finally:
            self.consumed += offset

    cdef int _check_target_form(
        self, method, str target, const unsigned char* t, Py_ssize_t n
    ) except -1:
        """RFC 9112 §3.2: the four request-target forms, each with its method."""
        cdef Py_ssize_t i, colon
        if method is M_CONNECT:  # _method() gives every "CONNECT" as M_CONNECT
            # [^/?#@\s]+ ":" [0-9]+, as a whole.
            colon = -1
            for i in range(n):
                if t[i] == b'/' or t[i] == b'?' or t[i] == b'#' or t[i] == b'@':
                    colon = -2
                    break
                if t[i] == b':':
                    colon = i
            ok = colon > 0 and colon < n - 1
            if ok:
                for i in range(colon + 1, n):
                    if not (48 <= t[i] <= 57):
                        ok = False
                        break
            if not ok:
                raise self._fail("CONNECT needs an authority-form target", 400, self.consumed)
        elif t[0] == b'/':
            return 0
        elif n == 1 and t[0] == b'*':
            if method is not M_OPTIONS:
                raise self._fail("asterisk-form target is only for OPTIONS", 400, self.consumed)
        else:
            # scheme "://": [A-Za-z][A-Za-z0-9+.-]* "://"
            ok = 97 <= LOWER[t[0]] <= 122
            i = 1
            while ok and i < n and (
                (97 <= LOWER[t[i]] <= 122) or (48 <= t[i] <= 57)
                or t[i] == b'+' or t[i] == b'.' or t[i] == b'-'
            ):
                i += 1
            if not (ok and n - i >= 3 and t[i] == b':' and t[i + 1] == b'/' and t[i + 2] == b'/'):
                raise self._fail("invalid request target", 400, self.consumed)
        return 0

    cdef object _parse_headers(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        self._note_fields = True
        cdef Py_ssize_t block_end = self._scan_block(
            start, end, eof, self._head_limit, self._lim.max_headers, "header", 431
        )
        if block_end < 0:
            return None
        fields = self._take_fields()
        method, version = self._method, self._version
        request = _new_request(method, self._target, version, fields)
        self._method = self._target = self._version = None
        self._describe(method, version)
        self.consumed = block_end - start
        self._start_body(self.body_length)
        return request

    cdef int _describe(self, method, version) except -1:
        """Set body_length, keep_alive, expect_continue, upgrade, or fail."""
        cdef bint v11 = version is _HTTP_1_1
        if self._hosts > 1:
            raise self._fail("multiple Host fields", 400, 0)
        if self._hosts == 0 and v11 and self._lim.require_host:
            raise self._fail("missing Host field", 400, 0)
        if self._hosts == 1 and self._host_fault is not None:
            raise self._fail(f"invalid Host: {self._host_fault}", 400, 0)
        length = self._request_length(v11)
        if self._lim.max_body >= 0 and length > self._lim.max_body:
            raise self._fail("body too large", 413, 0)
        self.body_length = length
        if self._conn_close:
            self.keep_alive = False
        elif not v11:
            self.keep_alive = self._conn_keep_alive
        else:
            self.keep_alive = True
        self.expect_continue = self._expect and v11
        self.upgrade = (self._upgrade_field and self._conn_upgrade) or method is M_CONNECT
        return 0

    cdef object _request_length(self, bint v11):
        """RFC 9112 §6.3 for requests, strict (as ``_request_length`` in the pure twin)."""
        cdef Py_ssize_t n
        te, cl = self._te, self._cl
        if te is None and cl is None:
            return 0
        try:
            if te is not None:
                if cl is not None:
                    raise ParseError("both Transfer-Encoding and Content-Length")
                if not v11:
                    raise ParseError("Transfer-Encoding in an HTTP/1.0 request")
                is_chunked(te, strict=True)
                return CHUNKED
            if cl is not None:
                if PyList_GET_SIZE(cl) == 1:
                    n = _digits((<list>cl)[0])
                    if n >= 0:
                        return n
                return parse_content_length(cl)  # the precise error
            return 0
        except ParseError as error:
            raise self._fail(error.message, error.status, 0) from None


# Parsers that idle connections lent: a parser at a message boundary holds nothing of
# its connection (it consumes no partial start line), so thousands of idle keep-alive
# connections can share a few. One pool, for the config seen last (one config serves
# every connection as a rule). Plain C between the list operations: with the GIL
# held, each function runs whole.
cdef _Pool _lent = _Pool(64)
cdef object _lent_config = None


# (Plain builtin functions taking one positional argument: called once per request,
# they should cost no more than a method call.)
@cython.binding(False)
@cython.always_allow_keywords(False)
def borrow_request_parser(config):
    """A request parser for ``config``: one an idle connection lent, or a new one."""
    cdef RequestParser parser
    if config is _lent_config:
        lent = _lent.take()
        if lent is not None:
            parser = <RequestParser>lent
            parser._lent = False
            return parser
    return RequestParser(config)


@cython.binding(False)
@cython.always_allow_keywords(False)
def lend_request_parser(RequestParser parser not None):
    """Give back a parser at a message boundary (``is_idle``) for others to borrow."""
    global _lent_config
    if parser._state != _START:
        raise ValueError("only an idle parser can be lent")
    if parser._lent:
        raise ValueError("this parser is lent already")
    if parser.config is not _lent_config:
        for old in _lent.drain():
            (<RequestParser>old)._lent = False
        _lent_config = parser.config
    if _lent.give(parser):
        parser._lent = True


cdef class ResponseParser(_Parser):
    """Parses the responses a client receives.

    Set :attr:`request_method` before each response: HEAD and CONNECT change how its
    body is delimited.
    """

    def __cinit__(self, config=None):
        self.request_method = M_GET
        self._checks_body_size = False

    cdef object _parse_start(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        cdef const unsigned char* data = self._data
        cdef Py_ssize_t limit = self._lim.max_request_line, lf, i, offset
        lf = _find(data, start, min(end, start + limit), b'\n')
        if lf < 0:
            if end - start >= limit:
                raise self._fail("status line too long", 400, 0)
            if eof:
                if start == end:
                    return None
                raise self._fail("unexpected end of input in status line", 400, 0)
            return None
        # "HTTP/1." ("0" / "1") SP 3DIGIT SP reason CRLF, all of it.
        ok = (
            lf - start >= 14
            and memcmp(data + start, b"HTTP/1.", 7) == 0
            and (data[start + 7] == b'0' or data[start + 7] == b'1')
            and data[start + 8] == 32
            and 48 <= data[start + 9] <= 57
            and 48 <= data[start + 10] <= 57
            and 48 <= data[start + 11] <= 57
            and data[start + 12] == 32
            and data[lf - 1] == 13
        )
        if ok:
            for i in range(start + 13, lf - 1):
                if not REASON[data[i]]:
                    ok = False
                    break
        if not ok:
            raise self._fail(_status_line_error((<const char*>data)[start : lf + 1]), 400, 0)
        if data[start + 9] == b'0':  # "0xx": not a status code (RFC 9110 §15)
            raise self._fail(
                f"invalid status-code: {(<const char*>data)[start + 9:start + 12].decode()}",
                400,
                0,
            )
        code = (data[start + 9] - 48) * 100 + (data[start + 10] - 48) * 10 + (data[start + 11] - 48)
        response = _alloc(_RESPONSE_TYPE)  # no __init__: the parser has checked everything
        response.status = check_code(code)
        response.reason = PyUnicode_DecodeLatin1(
            <const char*>data + start + 13, lf - 1 - start - 13, NULL
        )
        response.version = _HTTP_1_1 if data[start + 7] == b'1' else _HTTP_1_0
        self._response = response
        self._reset_notes()
        self._head_limit = self._lim.max_head - (lf + 1 - start)
        self._state = _HEADERS
        offset = lf + 1 - start
        self.consumed = 0
        try:
            return self._parse_headers(lf + 1, end, eof)
        finally:
            self.consumed += offset

    cdef object _parse_headers(self, Py_ssize_t start, Py_ssize_t end, bint eof):
        self._note_fields = True  # the framing fields, noted as the lines are scanned
        cdef Py_ssize_t block_end = self._scan_block(
            start, end, eof, self._head_limit, self._lim.max_headers, "header", 400
        )
        if block_end < 0:
            return None
        headers = _new_headers(self._take_fields())
        response = self._response
        self._response = None
        response.headers = headers
        self._describe(response, headers)
        self.consumed = block_end - start
        self._start_body(self.body_length)
        return response

    cdef int _describe(self, response, headers) except -1:
        """Set body_length, keep_alive, upgrade from the noted framing fields, or fail."""
        cdef int status = response.status
        version = response.version
        method = self.request_method
        try:
            self.body_length = response_framing(status, method, version, self._te, self._cl)
        except ParseError as error:
            raise self._fail(f"invalid response body length: {error.message}", 400, 0) from None
        # is_keep_alive (RFC 9112 §9.3), from the noted Connection tokens.
        persistent = not self._conn_close and (
            self._conn_keep_alive if version is _HTTP_1_0 else True
        )
        self.keep_alive = persistent and self.body_length != CLOSE_DELIMITED
        self.expect_continue = False
        self.upgrade = status == 101 or (method == "CONNECT" and 200 <= status < 300)
        self._te = self._cl = None
        return 0
