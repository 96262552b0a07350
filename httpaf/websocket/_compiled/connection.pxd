# C declarations for the compiled build of ../connection.py (see __init__.py here).
# Fields are C slots; every field stays readable and writable from Python (``public``).
# The frame reader is the compiled codec's (its read and take_message are C calls), and
# the methods a runtime calls per message are cpdef (C calls from a compiled runtime).

cimport cython

from httpaf._websocket cimport FrameReader as CFrameReader

cdef class WebSocketConnection:
    cdef public bint client
    cdef public object config
    cdef public object deflate
    cdef public object error
    cdef public object close_code
    cdef public object close_reason
    cdef public CFrameReader _reader
    cdef public list _events
    cdef public list _out
    cdef public Py_ssize_t _queued
    cdef public object _mask_key
    cdef public int _sending
    cdef public bint _sending_compressed
    cdef public bint close_sent
    cdef public bint close_received
    cdef public bint _read_done
    cdef public bint _failed
    cdef public bint _write_done
    cdef public object _wakeup
    cdef public Py_ssize_t _max_message
    cdef public Py_ssize_t _max_output

    @cython.locals(reader=CFrameReader, end=Py_ssize_t, kind=int)
    cpdef Py_ssize_t read(self, object buf, Py_ssize_t off=*, Py_ssize_t length=*) except -1

    cpdef list events(self)

    cpdef object send(self, object data, bint final=*)

    @cython.locals(sending=int, frame_opcode=int, compress=bint, rsv1=bint)
    cpdef object _send(self, int opcode, object data, bint final)

    cpdef object _frame(self, int opcode, object data, bint fin, bint rsv1)

    @cython.locals(out=list)
    cpdef object take_output(self)

    cpdef object _message(self, object data)
