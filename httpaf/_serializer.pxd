# The serializer's declarations, so that the compiled connection layer
# (httpaf/connection/_compiled/*.pxd) calls it in C. The implementation and the
# documentation are in _serializer.pyx.

cdef class DateField:
    cdef public str value  # an IMF-fixdate
    cdef public bytes line  # b"Date: <value>\r\n"
    cdef public bytes end  # line + b"\r\n": how a head with this date ends


cdef class Serializer:
    cdef Py_ssize_t _size
    cdef bytearray _buffer  # None while nothing copied is pending (see _release)
    cdef object _view  # memoryview of _buffer, made when bytes are queued from it
    cdef unsigned char* _data  # _buffer's storage
    cdef Py_ssize_t _capacity  # len(_buffer), 0 without one
    cdef Py_ssize_t _scheduled_pos  # start of copied bytes not yet queued
    cdef Py_ssize_t _write_pos  # end of copied bytes
    cdef list _queue  # memoryviews, in order
    cdef object _pool  # a _Pool of idle buffers of _size bytes, shared (_pool.pxi)
    cdef object _flushed  # deque of (threshold, callback), or None
    cdef long long _bytes_received
    cdef long long _bytes_written
    cdef bint _closed
    cdef public object waiter  # the writer's wakeup (see _serializer_pure.py)
    cdef public DateField date  # the Date of responses framed without one, or None

    cpdef wakeup(self)

    cpdef object write_whole_response(self, response, request, body, bint persistent, bint copy=*)

    cpdef object take(self, Py_ssize_t limit)

    cpdef bint is_quiet(self)

    cdef void _new_buffer(self, Py_ssize_t size)

    cdef void _release(self)

    cdef unsigned char* _reserve(self, Py_ssize_t n) except NULL

    cdef void _copy(self, const void* src, Py_ssize_t n)

    cdef int _write_raw(self, const void* src, Py_ssize_t n) except -1

    cdef void _flush_buffer(self)

    cdef int _write_fields(self, list fields) except -1

    cdef Py_ssize_t _write_head(
        self, bytes start_line, fields, extra, const char* tail=*, Py_ssize_t tail_len=*,
        bytes end=*,
    ) except -1

    cdef object _frame_head(
        self, response, request_method, request_version, body_size, bint persistent
    )

    cdef int _write_size_line(self, Py_ssize_t n) except -1

    cdef int _count_written(self, Py_ssize_t n) except -1
