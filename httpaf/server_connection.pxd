# Declarations for compiling server_connection.py with Cython (pure Python mode: the
# .py stays the one source; see docs/architecture.md, "The compiled connection
# layer"). Fields are C slots; every field stays readable and writable from Python.

cimport cython

from httpaf._parser cimport RequestParser as CRequestParser
from httpaf._serializer cimport Serializer as CSerializer
from httpaf.reqd cimport Reqd


cdef class ServerConnection:
    cdef public object config
    cdef public object _handler
    cdef public object _error_handler
    cdef public object _parser
    cdef public object _serializer
    cdef public list _queue
    cdef public object _receiving
    cdef public bint _reader_closed
    cdef public object _parse_error
    cdef public bint _errored
    cdef public object _dropped
    cdef public bint _draining
    cdef public object _reader_waiter
    cdef public object _writer_waiter
    cdef public bint _upgrade_written
    cdef public Py_ssize_t request_count
    cdef public Py_ssize_t steady_consumed
    cdef public int steady_awaiting

    # The steady read calls the parser and the serializer in C.
    @cython.locals(
        reqd=Reqd, parser=CRequestParser, serializer=CSerializer,
        consumed=Py_ssize_t, end=Py_ssize_t, awaiting=int,
    )
    cpdef object read_steadily(
        self, buf, Py_ssize_t off, Py_ssize_t length, Py_ssize_t limit, on_writable
    )
