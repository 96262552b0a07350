# C declarations for the compiled build of ../server.py (see __init__.py here). Fields
# are C slots; every field stays readable and writable from Python (``public``).

cimport cython

from httpaf._parser cimport RequestParser as CRequestParser
from httpaf._serializer cimport Serializer as CSerializer
from httpaf.connection._compiled.reqd cimport Reqd, make_reqd

# Module globals the request path reads, as C variables (see reqd.pxd).
cdef int AWAIT_NOTHING, AWAIT_REQUEST, AWAIT_HEAD, AWAIT_BODY, COMPLETE, STREAMING
cdef object _NO_PARSER, _EMPTY_BODY, borrow_request_parser, lend_request_parser, Request


@cython.final
cdef class ServerConnection:
    cdef public object config
    cdef public object _handler
    cdef public object _error_handler
    cdef public CRequestParser _parser
    cdef public CSerializer _serializer
    cdef public list _queue
    cdef public Reqd _receiving
    cdef public bint _reader_closed
    cdef public object _parse_error
    cdef public bint _errored
    cdef public object _dropped
    cdef public bint _draining
    cdef public object _reader_waiter
    cdef public bint _upgrade_written
    cdef public Py_ssize_t request_count
    cdef public Py_ssize_t steady_consumed
    cdef public int steady_awaiting
    cdef public bint views_lent

    # The steady read: the parser, the serializer and the request descriptors are
    # called in C.
    @cython.locals(serializer=CSerializer, consumed=Py_ssize_t, awaiting=int)
    cpdef object read_steadily(
        self, buf, Py_ssize_t off, Py_ssize_t length, Py_ssize_t limit, on_writable
    )

    @cython.locals(
        parser=CRequestParser, queue=list, pos=Py_ssize_t, start=Py_ssize_t,
        end=Py_ssize_t, headed=bint,
    )
    cdef Py_ssize_t _read(self, buf, Py_ssize_t start, Py_ssize_t end, bint eof) except -1

    @cython.locals(parser=CRequestParser, reqd=Reqd, queue=list)
    cdef _on_request(self, request)

    @cython.locals(reqd=Reqd)
    cdef _start(self, Reqd reqd)

    @cython.locals(queue=list, head=Reqd, state=int, complete=bint)
    cdef _advance(self)

    cpdef bint is_awaiting_input(self)

    @cython.locals(receiving=Reqd, parser=CRequestParser)
    cdef int _awaiting_input(self) except -1

    cdef bint _must_stop_parsing(self) except -1
