# The parser classes' declarations, so that the compiled connection layer
# (server_connection.pxd) reads their fields and calls ``parse`` in C. The
# implementation and the documentation are in _parser.pyx.

cimport cython
from cpython.object cimport PyObject


cdef struct _Limits:
    Py_ssize_t max_request_line, max_field, max_head, max_headers
    Py_ssize_t max_chunk_line, max_trailer_size, max_trailers
    long long max_body  # -1: unlimited
    bint require_host


cdef class _Parser:
    cdef readonly object config
    cdef public Py_ssize_t consumed
    cdef public object body_length
    cdef public bint keep_alive
    cdef public bint expect_continue
    cdef public bint upgrade
    cdef int _state
    cdef unsigned long long _remaining  # bytes left in a fixed body or the current chunk
    cdef unsigned long long _body_seen  # chunked body bytes so far (saturating)
    cdef Py_ssize_t _scanned  # bytes of an incomplete field block already validated
    # How far the check of a line still arriving got (from the line's start), the part
    # of the line it is in, and where that part began (see _parser_pure's line faults).
    cdef Py_ssize_t _checked, _mark
    cdef int _line_state
    cdef list _fields  # the fields of those bytes
    cdef Py_ssize_t _head_limit
    cdef object _error
    cdef bint _checks_body_size
    cdef _Limits _lim  # the configuration, as C values
    # The framing fields noted while scanning a request head.
    cdef int _hosts
    cdef object _host_fault  # what is wrong with the Host value, or None
    cdef bytes _valid_host  # the last Host value found valid (checked again by memcmp)
    cdef list _cl
    cdef list _te
    cdef bint _conn_close, _conn_keep_alive, _conn_upgrade, _expect, _upgrade_field
    cdef bint _note_fields  # request heads note framing fields; trailers do not
    cdef bint _lent  # in the pool of lent parsers (lend_request_parser)
    # The buffer of the current call.
    cdef const unsigned char* _data
    cdef object _buf
    cdef Py_ssize_t _size

    cpdef object parse(self, buf, Py_ssize_t start=*, end=*, bint eof=*)

    cpdef bint at_message_boundary(self)

    @cython.final
    cdef void _reset_notes(self) noexcept

    @cython.final
    cdef object _fail(self, str message, int status, Py_ssize_t consumed)

    @cython.final
    cdef object _step(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    cdef object _parse_start(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    cdef object _parse_headers(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    @cython.final
    cdef object _slice(self, Py_ssize_t start, Py_ssize_t n)

    @cython.final
    cdef Py_ssize_t _scan_block(
        self, Py_ssize_t start, Py_ssize_t end, bint eof, Py_ssize_t limit,
        Py_ssize_t max_count, str what, int status,
    ) except -2

    @cython.final
    cdef int _keep(self, PyObject** batch, Py_ssize_t count) except -1

    @cython.final
    cdef int _line_error(self, Py_ssize_t pos, Py_ssize_t lf, str what) except -1

    @cython.final
    cdef int _note(
        self, int kind, const unsigned char* v, Py_ssize_t n, object value
    ) except -1

    @cython.final
    cdef list _take_fields(self)

    @cython.final
    cdef int _start_body(self, object length) except -1

    @cython.final
    cdef object _parse_fixed(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    @cython.final
    cdef object _take(self, Py_ssize_t start, Py_ssize_t end, bint eof, int done, str truncated)

    @cython.final
    cdef object _parse_eof_body(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    @cython.final
    cdef object _parse_chunk_data(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    @cython.final
    cdef object _parse_chunk_size(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    @cython.final
    cdef object _then_trailers(self, Py_ssize_t offset, Py_ssize_t start, Py_ssize_t end, bint eof)

    @cython.final
    cdef object _parse_trailers(self, Py_ssize_t start, Py_ssize_t end, bint eof)


cdef class RequestParser(_Parser):
    cdef object _method
    cdef str _target
    cdef object _version

    cdef object _parse_start(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    cdef int _check_target_form(
        self, method, str target, const unsigned char* t, Py_ssize_t n
    ) except -1

    cdef object _parse_headers(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    cdef int _describe(self, method, version) except -1

    cdef object _request_length(self, bint v11)


cdef class ResponseParser(_Parser):
    cdef public object request_method
    cdef object _response

    cdef object _parse_start(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    cdef object _parse_headers(self, Py_ssize_t start, Py_ssize_t end, bint eof)

    cdef int _describe(self, response, headers) except -1
