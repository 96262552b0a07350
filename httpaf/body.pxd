# Declarations for compiling body.py with Cython (pure Python mode: the .py stays the
# one source; see docs/architecture.md, "The compiled connection layer"). Fields are
# C slots; every field stays readable and writable from Python.

cdef class BodyReader:
    cdef public object _on_read
    cdef public object _on_eof
    cdef public object _pieces
    cdef public object _buffered
    cdef public bint _eof
    cdef public bint _closed
    cdef public object trailers
    cdef public object _on_schedule
    cdef public object _first_read


cdef class BodyWriter:
    cdef public object _serializer
    cdef public object _length
    cdef public object _remaining
    cdef public bint _discard
    cdef public object _wake
    cdef public object _on_close
    cdef public bint _closed
